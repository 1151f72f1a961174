"""Shared fixtures: a migrated database per run, a rolled-back transaction per test.

The database comes from ``REGULARS_TEST_DATABASE_URL`` (``./scripts/test`` runs the suite
once on SQLite and once on a throwaway PostgreSQL database); by default a SQLite file in
a temporary directory.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from regulars.core import config as config_module
from regulars.core.config import Settings
from regulars.core.crypto import reset_cipher
from regulars.core.db import make_engine
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.app import create_app
from regulars.entrypoints.context import db_upgrade

TEST_KEY = base64.b64encode(b"k" * 32).decode()
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _base_url(tmp_root: Path) -> str:
    return os.environ.get("REGULARS_TEST_DATABASE_URL") or f"sqlite:///{tmp_root / 'test.db'}"


def is_postgres_url(url: str) -> bool:
    """Tell whether a URL is PostgreSQL."""
    return url.startswith("postgresql")


def create_database(url: str, tmp_root: Path) -> str:
    """A brand-new empty database next to ``url`` (a file for SQLite, a database for PostgreSQL)."""
    if not is_postgres_url(url):
        return f"sqlite:///{tmp_root / f'fresh-{uuid.uuid4().hex[:8]}.db'}"
    name = f"regulars_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database` (PostgreSQL only; files go with tmp)."""
    if not is_postgres_url(url):
        return
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary directory for the whole run."""
    return tmp_path_factory.mktemp("regulars")


@pytest.fixture(scope="session")
def database_url(tmp_root: Path) -> str:
    """URL of the run's database."""
    return _base_url(tmp_root)


@pytest.fixture(scope="session", autouse=True)
def settings(tmp_root: Path, database_url: str) -> Iterator[Settings]:
    """Settings for the run: the test database, a fixed data key, files in tmp."""
    test_settings = Settings(
        database_url=database_url,
        data_key=TEST_KEY,
        var_dir=tmp_root / "var",
        shared_data_dir=SHARED_DATA,
    )
    config_module.get_settings.cache_clear()
    os.environ["REGULARS_DATABASE_URL"] = database_url
    os.environ["REGULARS_DATA_KEY"] = TEST_KEY
    os.environ["REGULARS_VAR_DIR"] = str(tmp_root / "var")
    reset_cipher()
    yield test_settings
    config_module.get_settings.cache_clear()
    reset_cipher()


@pytest.fixture(scope="session")
def engine(database_url: str, settings: Settings) -> Iterator[Engine]:
    """The run's engine, migrated to the latest revision once."""
    eng = make_engine(database_url)
    db_upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits are savepoints of the test's transaction."""
    return sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> Iterator[UnitOfWork]:
    """An open unit of work for service tests."""
    with UnitOfWork(session_factory) as unit:
        yield unit


@pytest.fixture
def app(engine: Engine, session_factory: sessionmaker[Session], settings: Settings) -> FastAPI:
    """The app, its requests running inside the test's transaction."""
    application = create_app(settings, engine=engine)
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """HTTP client on the app (no server; raises nothing, answers what the app answers)."""
    with TestClient(
        app, raise_server_exceptions=os.environ.get("REGULARS_TEST_RAISE") == "1"
    ) as test_client:
        yield test_client


@pytest.fixture
def fresh_database(tmp_root: Path, database_url: str) -> Iterator[str]:
    """A new migrated database of the same kind, for tests that run a real server or commit."""
    url = create_database(database_url, tmp_root)
    eng = make_engine(url)
    db_upgrade(eng)
    eng.dispose()
    yield url
    drop_database(url)


@pytest.fixture
def cli_db(fresh_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database that ``regulars …`` commands (run by Typer's runner) use."""
    monkeypatch.setenv("REGULARS_DATABASE_URL", fresh_database)
    config_module.get_settings.cache_clear()
    context.engine.cache_clear()
    yield fresh_database
    reset_cipher()
    context.engine().dispose()
    context.engine.cache_clear()
    config_module.get_settings.cache_clear()
