"""``regulars serve``'s HTTP protocol: one socket write per answer, answers intact."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from regulars.entrypoints.serving import OneWriteHttpProtocol, OneWriteTransport

pytestmark = pytest.mark.nodb  # no database: run once


class _Socket(asyncio.Protocol):
    """The reading end: collects what arrives."""

    def __init__(self) -> None:
        self.data = b""

    def data_received(self, data: bytes) -> None:
        self.data += data


def test_writes_of_one_loop_turn_leave_as_one_write() -> None:
    async def scenario() -> tuple[list[bytes], bytes]:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, left)
        reader_transport, reader = await loop.connect_accepted_socket(_Socket, right)
        sent: list[bytes] = []
        real_write = transport.write
        transport.write = lambda data: (sent.append(bytes(data)), real_write(data))[1]  # type: ignore[method-assign]
        wrapped = OneWriteTransport(transport, loop)  # type: ignore[arg-type]
        wrapped.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        wrapped.write(b"ok")
        assert sent == []  # nothing leaves before the turn ends
        await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        wrapped.write(b"late")
        wrapped.close()  # closing sends what is kept first
        await asyncio.sleep(0.05)
        reader_transport.close()
        return sent, reader.data

    # A fresh loop on a thread of its own: a browser test earlier in the
    # same process can leave a loop marked running on this thread.
    results: list[tuple[list[bytes], bytes]] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(scenario()))
        except BaseException as failure:  # handed back to the test's thread
            failures.append(failure)

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(timeout=10)
    if failures:
        raise failures[0]
    assert results, "the scenario did not finish"
    sent, received = results[0]
    assert sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", b"late"]
    assert received == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\noklate"


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers of every shape: with a length, streamed, empty, and for HEAD."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


@pytest.fixture
def server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=OneWriteHttpProtocol, log_level="warning"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    for _ in range(200):
        if instance.started:
            break
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


def test_answers_through_the_protocol_are_intact(server: str) -> None:
    with httpx.Client(base_url=server) as client:  # one keep-alive connection
        for _ in range(3):
            answer = client.get("/")
            assert answer.status_code == 200
            assert answer.json() == {"ok": True}
        assert client.get("/stream").text == "one,two,three"
        assert client.get("/empty").status_code == 204
        head = client.head("/")
        assert head.status_code == 200
        assert head.content == b""
        assert client.get("/").json() == {"ok": True}
