"""Database access for commands: one engine per process, one unit of work per command."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from regulars.core.config import get_settings
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork

_ROOT = Path(__file__).resolve().parents[3]


@lru_cache(maxsize=1)
def engine() -> Engine:
    """The engine for the configured database."""
    settings = get_settings()
    return make_engine(settings.database_url, echo=settings.sql_echo)


def session_factory() -> sessionmaker[Session]:
    """Sessions on the configured database."""
    return make_session_factory(engine())


def new_uow() -> UnitOfWork:
    """A unit of work for one command."""
    return UnitOfWork(session_factory())


def alembic_config() -> Config:
    """Alembic configuration of the source tree."""
    config = Config(str(_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(_ROOT / "migrations"))
    return config


def db_upgrade(target_engine: Engine | None = None, revision: str = "heads") -> None:
    """Migrate the database to ``revision`` (every branch's latest by default)."""
    config = alembic_config()
    with (target_engine or engine()).connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
