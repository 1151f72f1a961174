"""A real uvicorn server in a subprocess, for end-to-end and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from regulars.core.config import Settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server did not answer within 60 s:\n{log.read_text()}")


@contextmanager
def running_server(
    database_url: str,
    settings: Settings,
    log: Path,
    *,
    while_starting: Callable[[], None] | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """Serve the app on ``database_url`` (it sees only the environment); yield its base URL.

    ``while_starting`` runs while the server imports the app (seeding, for example);
    ``workers`` is ``regulars serve --workers``.
    """
    port = free_port()
    env = {
        **os.environ,
        "REGULARS_DATABASE_URL": database_url,
        "REGULARS_DATA_KEY": settings.data_key or "",
        "REGULARS_VAR_DIR": str(settings.var_dir),
    }
    # ``regulars serve`` as in production (its HTTP protocol included), without the jobs.
    command = [str(Path(sys.executable).with_name("regulars")), "serve", "--no-scheduler"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        if while_starting is not None:
            while_starting()
        _wait_until_up(proc, base_url, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
