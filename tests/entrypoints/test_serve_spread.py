"""``regulars serve --workers N``: the tills' connections are spread over the workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from regulars.entrypoints.serving import spread_sockets

pytestmark = pytest.mark.nodb  # no database: run once

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 16


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_each_socket_takes_a_share_of_connections_made_at_once() -> None:
    listening = spread_sockets("127.0.0.1", 0, 2, 64)
    try:
        port = listening[0].getsockname()[1]
        assert listening[1].getsockname()[1] == port
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
        taken = []
        for sock in listening:
            sock.setblocking(False)
            count = 0
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
            taken.append(count)
        for client in clients:
            client.close()
    finally:
        for sock in listening:
            sock.close()
    # One socket taking all 16 would happen once in 32,768 runs.
    assert sum(taken) == CONNECTIONS and min(taken) >= 1, taken


def _pids(port: int, timeout: float = 30) -> list[int]:
    """The worker pid behind each of ``CONNECTIONS`` connections opened at once."""

    def ask(_n: int) -> int:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
            return int(client.get("/").text)

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        return list(pool.map(ask, range(CONNECTIONS)))


@pytest.fixture
def spread_server() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    code = (
        "import uvicorn\n"
        "from regulars.entrypoints.serving import serve_spread\n"
        f"serve_spread(uvicorn.Config('tests.entrypoints.pid_app:app', host='127.0.0.1',"
        f" port={port}, workers=2, log_level='warning'))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if len(set(_pids(port))) == 2:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    yield port, process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:  # pragma: no cover - a hung supervisor
        process.kill()
        raise


@pytest.mark.slow
def test_both_workers_serve_and_a_dead_one_is_replaced_on_its_socket(
    spread_server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, _supervisor = spread_server
    first = _pids(port)
    workers = set(first)
    assert len(workers) == 2, first  # both workers took connections opened at once
    dead = min(workers)
    os.kill(dead, signal.SIGKILL)
    # Every connection is answered, also those the kernel hands to the dead worker's
    # socket: its replacement listens there (an answer would never come otherwise).
    deadline = time.monotonic() + 60
    while True:
        after = set(_pids(port))
        if len(after) == 2 and dead not in after:
            break
        assert time.monotonic() < deadline, after
        time.sleep(0.5)
    assert (workers - {dead}) < after


@pytest.mark.slow
def test_the_worker_count_is_fixed_so_no_socket_is_left_without_a_worker(
    spread_server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, supervisor = spread_server
    workers = set(_pids(port))
    supervisor.send_signal(signal.SIGTTOU)  # uvicorn would stop a worker: its socket orphaned
    time.sleep(1.5)  # the supervisor reads signals every half second
    for _ in range(3):  # a connection on an orphaned socket would never be answered
        assert set(_pids(port, timeout=5)) == workers
    supervisor.send_signal(signal.SIGTTIN)  # uvicorn would add a worker on every socket
    time.sleep(1.5)
    for _ in range(3):
        assert set(_pids(port, timeout=5)) == workers
