"""How ``regulars serve`` runs uvicorn: one socket write per answer, connections spread
over the workers.

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

With more than one worker, :func:`serve_spread` gives each worker a listening socket of
its own (``SO_REUSEPORT``), so the kernel spreads the tills' connections over the workers
(:class:`SpreadWorkers`); with uvicorn's one shared socket the first worker to wake took
them all.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from typing import Any

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")


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


def spread_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` listening sockets on one address, each with ``SO_REUSEPORT``.

    The kernel hands each new connection to one of them by a hash of its addresses, so
    each worker that listens on a socket of its own gets a share of the connections.
    With one shared socket (uvicorn's way) the worker that wakes first accepts every
    connection waiting: eight tills connecting at once all went to one worker, and the
    second worker and core stayed idle. Port 0 binds the first socket to a free port and
    the others to the same one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class SpreadWorkers(Multiprocess):
    """uvicorn's worker supervisor with each worker on a listening socket of its own.

    ``sockets`` holds one socket per worker (:func:`spread_sockets`); worker ``n`` always
    listens on socket ``n``, and a worker that dies or is restarted is replaced on the
    same socket. The supervisor keeps every socket open, so connections the kernel hands
    to a socket whose worker is being replaced wait in its backlog, not refused.

    uvicorn's supervisor gives all its workers the same sockets and has no setting for
    this; the three methods that start workers are written again here with the socket
    chosen by the worker's place, and adding or removing a worker by signal (``SIGTTIN``,
    ``SIGTTOU``) is refused. Health checks, restarts (``SIGHUP``) and shutdown are uvicorn's.
    """

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        if len(sockets) != config.workers:
            raise ValueError("one socket per worker")
        super().__init__(config, sockets)

    def _start(self, place: int) -> Process:
        process = Process(self.config, [self.sockets[place]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(place) for place in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        """Replace a worker that died or hangs, on its own socket."""
        for place, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The app cannot start; every replacement would fail the same way.
                logger.error("worker [%s] failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            logger.info("worker [%s] died; starting another", process.pid)
            self.processes[place] = self._start(place)

    def handle_ttin(self) -> None:
        """Refuse to add a worker: every socket has its one worker, and a worker more would
        have none of its own."""
        logger.warning("SIGTTIN ignored: the number of workers is fixed (one per socket)")

    def handle_ttou(self) -> None:
        """Refuse to stop a worker: its socket would keep taking connections nobody accepts."""
        logger.warning("SIGTTOU ignored: the number of workers is fixed (one per socket)")

    def restart_all(self) -> None:
        """Replace each worker in turn, the new one serving before the old one stops."""
        for place, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(place)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error("worker [%s] was not ready in time; restart stopped", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[place] = new


def serve_spread(config: Config) -> None:
    """Serve ``config.app`` with ``config.workers`` workers, connections spread over them."""
    if not sys.platform.startswith("linux"):
        # Only Linux balances connections over sockets that share a port (elsewhere the
        # last socket bound may take them all): uvicorn's one shared socket there.
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    sockets = spread_sockets(config.host, config.port, config.workers, config.backlog)
    try:
        SpreadWorkers(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()
