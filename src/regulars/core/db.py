"""Engine, declarative base and the column types every domain shares."""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from regulars.core.timeutil import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table, with a constraint naming convention for Alembic."""

    metadata = MetaData(naming_convention=NAMING)


class _ScaledDecimal(TypeDecorator[Decimal]):
    """A Decimal stored as a scaled integer.

    Both SQLite and PostgreSQL then add and compare amounts exactly (SQLite has no
    decimal type and SQLAlchemy would go through float), and SQL sums stay integers.
    """

    impl = BigInteger
    cache_ok = True
    scale = 100
    places = 2

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * self.scale).to_integral_value())

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # scaleb keeps the places: 2550 cents read back as 25.50, not 25.5.
        return Decimal(int(value)).scaleb(-self.places)


class Money(_ScaledDecimal):
    """Currency amount with two decimals, stored in cents (fen)."""

    cache_ok = True
    scale = 100


class Quantity(_ScaledDecimal):
    """Quantity with three decimals (weighed goods), stored in thousandths."""

    cache_ok = True
    scale = 1000
    places = 3


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamp stored as UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


#: Execution option of a connection that only reads (``session.connection(execution_options=
#: {READ_ONLY: True})``): on SQLite its transaction takes no write lock.
READ_ONLY = "read_only"
_SQLITE_BUSY_SECONDS = 30
_HOLDS_WRITERS = "regulars_holds_writers"


def _sqlite_pragmas(engine: Engine) -> None:
    """Make SQLite safe for concurrent tills: WAL, a busy timeout and BEGIN IMMEDIATE.

    pysqlite opens transactions lazily and upgrades read locks to write locks, which
    deadlocks concurrent writers; taking the write lock at BEGIN serialises them instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Writers of one process queue on this lock before SQLite's: a thread waiting in
    # SQLite's busy handler sleeps in steps of up to 100 ms and so leaves the database idle
    # after the holder commits, where a lock hands over at once. Other processes still
    # meet SQLite's own lock and busy timeout. Waiting here is bounded by the same timeout,
    # after which the writer goes on to SQLite's lock as before (never a deadlock).
    writers = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A read-only unit (execution option ``read_only``) never upgrades, so a deferred
        # BEGIN is safe and does not queue behind the writers (WAL readers do not block).
        if conn.get_execution_options().get(READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        held = writers.acquire(timeout=_SQLITE_BUSY_SECONDS)
        conn.info[_HOLDS_WRITERS] = held
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop(_HOLDS_WRITERS, False):
            writers.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)


#: psycopg parses a query's placeholders once and caches the result, but only for queries
#: of at most 4 KiB and 50 parameters (``psycopg._queries``; the limits keep one-off
#: statements that ORMs generate out of its 128-entry cache). The till's statement for a
#: member's receipt (receipt, lines, points, account and answer in one) is longer and has
#: more parameters; it is built once and runs for every member's checkout, and re-parsing
#: it cost about 0.2 ms of CPU each time. The limits are raised for statements of that size.
_PSYCOPG_CACHE_LIMITS = {"MAX_CACHED_STATEMENT_LENGTH": 8192, "MAX_CACHED_STATEMENT_PARAMS": 100}


def _psycopg_cache_limits() -> None:
    """Raise psycopg's limits on which statements' parsing it caches (see above).

    Module constants of psycopg, read at every call: if a release drops them, nothing
    happens here (the test ``test_psycopg_caches_the_till_statement`` then fails).
    """
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    for name, limit in _PSYCOPG_CACHE_LIMITS.items():
        if isinstance(getattr(_queries, name, None), int):
            setattr(_queries, name, max(limit, getattr(_queries, name)))


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, pre_ping: bool = True
) -> Engine:
    """Create an engine for ``url`` with the settings Regulars relies on.

    ``pre_ping`` tests a pooled connection with a round trip at every checkout; the
    server turns it off (``Settings.db_pre_ping``) as it would cost one per request.
    """
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    _psycopg_cache_limits()
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping
    )


def make_session_factory(engine: Engine) -> sessionmaker[OrmSession]:
    """Return the session factory used by units of work."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def is_postgres(engine_or_dialect: Engine | Dialect) -> bool:
    """Tell whether an engine or dialect is PostgreSQL."""
    name = engine_or_dialect.name if isinstance(engine_or_dialect, Engine | Dialect) else ""
    return name == "postgresql"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` taken literally.

    Use with ``.like(pattern, escape="\\\\")``.
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


#: Rows SQLite samples per index when it gathers the planner's statistics: bounded, so
#: it takes milliseconds however large the database (the demo store: 6 ms, against 100 ms
#: for every row), and close enough for the planner to choose between indexes.
SQLITE_ANALYSIS_LIMIT = 400


def planner_stats(session: OrmSession) -> None:
    """Gather SQLite's query-planner statistics (``ANALYZE``, bounded); PostgreSQL's
    autovacuum does this by itself, so there it does nothing.

    Without statistics SQLite guesses, and guessed wrong where it matters: a receipt
    number searched without its till scanned every receipt by time (the demo store:
    17.9 ms) instead of probing the receipt key once per till (0.28 ms). Run after bulk
    loads (imports, the demo) and when the server starts; the statistics are part of the
    caller's transaction.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
    connection.exec_driver_sql("ANALYZE")
