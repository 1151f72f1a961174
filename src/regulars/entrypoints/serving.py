"""The HTTP protocol ``regulars serve`` gives uvicorn: httptools, one socket write per answer.

uvicorn's httptools protocol writes a response's status line and headers with one
``transport.write`` and its body with another. uvloop sends each write at once, so every
answer costs two ``send`` system calls and two TCP segments, and on loopback the kernel
delivers each segment to the reader inside the writer's call, with the GIL held. In the
till benchmark those writes were about 15 % of a worker's Python time.

:class:`OneWriteTransport` gathers what the protocol writes during one turn of the event
loop and sends it with one call at the end of that turn: an answer whose headers and body
are written in the same turn (every answer whose body is ready, as the API's are) goes out
in one segment. A streamed body still goes out as it comes, one turn later at most.

No library does this: uvicorn has no setting for it, and the transport is the only place
between the protocol and the socket. Everything but writing is handed to the real
transport unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWriteTransport(asyncio.Transport):
    """A transport that sends the writes of one event loop turn with one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keep ``data`` for the write at the end of this turn of the loop."""
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        """Keep each piece for the write at the end of this turn of the loop."""
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what was kept, in one write (nothing if the transport is closing)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        """Send what was kept, then close."""
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """Send what was kept, then close the writing side."""
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        """Drop what was kept and close at once."""
        self._pending.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        """Bytes kept here and bytes the real transport has not sent yet."""
        return sum(map(len, self._pending)) + self._transport.get_write_buffer_size()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through :class:`OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))
