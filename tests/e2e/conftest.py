"""A real uvicorn server in a subprocess, on a fresh database set up through the services.

The server sees the database only through its URL, exactly as in production, so these
tests cover what the in-process ``client`` fixture cannot: several connections, commits
that other requests see, and the database's own locking.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from regulars.catalog import service as catalog_service
from regulars.core.config import Settings
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from tests.factories.server import running_server
from tests.factories.world import World, build_world


@dataclass
class LiveTill:
    """A running server, its database and the keys of its tills."""

    base_url: str
    database_url: str
    world: World
    keys: dict[str, str]  # terminal code → API key


def _set_up(url: str, terminals: int) -> tuple[World, dict[str, str]]:
    """A store with ``terminals`` tills, products and members, committed through services."""
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            world = build_world(uow, products=20, members=5)
            keys = {"T01": world.api_key}
            for n in range(2, terminals + 1):
                code = f"T{n:02d}"
                catalog_service.terminal_create(uow, store_code=world.store.code, code=code)
                key = catalog_service.terminal_issue_key(
                    uow, store_code=world.store.code, terminal_code=code
                )
                keys[code] = key.api_key
            uow.commit()
    finally:
        engine.dispose()
    return world, keys


@pytest.fixture
def live_till(fresh_database: str, settings: Settings, tmp_path: Path) -> Iterator[LiveTill]:
    """Four tills of one store and a server answering for them: on PostgreSQL two worker
    processes, as served in production, each taking its share of the tills' connections
    (on SQLite one, as its writers take turns anyway)."""
    world, keys = _set_up(fresh_database, terminals=4)
    log = tmp_path / "server.log"
    workers = 2 if fresh_database.startswith("postgresql") else 1
    with running_server(fresh_database, settings, log, workers=workers) as base_url:
        yield LiveTill(base_url=base_url, database_url=fresh_database, world=world, keys=keys)
