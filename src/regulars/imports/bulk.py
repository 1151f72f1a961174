"""Set-based reads and writes of bulk imports on the driver connection, for both databases.

The receipts import moves tens of thousands of rows per batch. Through the ORM or even
SQLAlchemy Core, each row costs a dictionary, bind processing per value (``Money``,
``UTCDateTime``, ``JSON``) and, for ``IN`` lists, a statement rendered per chunk. Here the
rows are already what the columns store (scaled integers, UTC text, JSON text), built in
Polars, so they go straight to the driver of the unit of work's connection (same
transaction):

* **PostgreSQL**: frames are written with ``COPY … FROM STDIN (FORMAT csv)`` from the
  CSV Polars writes (no Python loop over rows); a list of keys is one array parameter
  (``= ANY(%s)``, ``unnest``).
* **SQLite**: frames go through ``sqlite3``'s ``executemany`` (one prepared statement, a
  tuple per row); a list of keys is one JSON parameter read with ``json_each``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
from sqlalchemy import func, select

from regulars.core.db import is_postgres
from regulars.core.uow import UnitOfWork
from regulars.imports.outcome import WAITING, Progress


def driver(uow: UnitOfWork) -> tuple[Any, bool]:
    """The DBAPI connection of the unit of work's transaction and whether it is PostgreSQL."""
    connection = uow.session.connection()
    return connection.connection.driver_connection, is_postgres(connection.dialect)


@contextmanager
def write_cache(uow: UnitOfWork, mebibytes: int = 64) -> Iterator[None]:
    """On SQLite, give the connection a page cache of ``mebibytes`` while the block runs.

    SQLite's default 2 MiB cache is smaller than the indexes a large import writes into
    (random positions in ``receipt``'s member and key indexes), so pages are read again
    and again; a bigger cache saves about a third of the CPU of one large insert (less,
    about 5 %, over a whole import, whose batches each start cold). Use it inside one
    transaction: the connection goes back to the pool at the commit, so its setting is
    restored before. PostgreSQL: nothing to do (``shared_buffers`` is the server's).
    """
    raw, pg = driver(uow)
    if pg:
        yield
        return
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = {-1024 * int(mebibytes)}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(before)}")


def is_pg(uow: UnitOfWork) -> bool:
    """Tell whether the unit of work runs on PostgreSQL."""
    return is_postgres(uow.session.get_bind().dialect)


# The key of the advisory lock that imports take turns on (the bytes of "REGULARS").
IMPORT_LOCK = 0x524547554C415253


def import_turn(uow: UnitOfWork, waiting: Callable[[], None] | None = None) -> None:
    """Wait for this import's turn to read and write a batch, until the transaction ends.

    Every import takes it first in each batch, before it looks for the rows already
    recorded, so two imports running at once (the same file uploaded twice, a CLI import
    beside a staff upload) take turns batch by batch, and the second finds what the first
    wrote instead of failing on a unique key. On PostgreSQL it is a transaction-level
    advisory lock, and ``waiting`` is called first when another import holds it (the run's
    page then says so); SQLite's writers take turns per transaction already (``BEGIN
    IMMEDIATE``, ``core.db``), so there it does nothing.
    """
    if not is_pg(uow):
        return
    if waiting is not None:
        if uow.session.scalar(select(func.pg_try_advisory_xact_lock(IMPORT_LOCK))):
            return
        waiting()
    uow.session.execute(select(func.pg_advisory_xact_lock(IMPORT_LOCK)))


def waiting_report(progress: Progress | None, done: int, total: int) -> Callable[[], None] | None:
    """The ``waiting`` of :func:`import_turn` for a run with a ``progress`` callback."""
    if progress is None:
        return None
    return lambda: progress(WAITING, done, total)


def pg_array(values: pl.Series | Sequence[Any]) -> str:
    """``values`` as the text of a PostgreSQL array (``{"1","2",NULL}``), built by Polars.

    Handing psycopg a list of tens of thousands of values costs a Python call per value
    to adapt it; one string cast on the server (``%s::bigint[]``) costs nothing here.
    """
    series = values if isinstance(values, pl.Series) else pl.Series(values)
    escaped = (
        pl.col("v")
        .cast(pl.String)
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
    )
    item = (
        pl.when(pl.col("v").is_null())
        .then(pl.lit("NULL"))
        .otherwise(pl.concat_str([pl.lit('"'), escaped, pl.lit('"')]))
    )
    joined = series.alias("v").to_frame().select(item.str.join(",")).item()
    return "{" + (joined or "") + "}"


def fetch_in(
    uow: UnitOfWork, sql: str, values: pl.Series | Sequence[Any], schema: dict[str, Any]
) -> pl.DataFrame:
    """Run ``sql`` whose ``{values}`` is a membership test against ``values``, as a frame.

    ``sql`` is written with ``x {values}``: it becomes ``x = ANY(%s::bigint[])`` (or
    ``text[]``, by the values' type) on PostgreSQL and
    ``x IN (SELECT value FROM json_each(?))`` on SQLite, so the whole list is one parameter
    and one statement, however long.
    """
    if len(values) == 0:
        return pl.DataFrame(schema=schema)
    raw, pg = driver(uow)
    param: object
    if pg:
        series = values if isinstance(values, pl.Series) else pl.Series(values)
        kind = "bigint" if series.dtype.is_integer() else "text"
        statement, param = sql.format(values=f"= ANY(%s::{kind}[])"), pg_array(series)
    else:
        statement = sql.format(values="IN (SELECT value FROM json_each(?))")
        param = json.dumps(values.to_list() if isinstance(values, pl.Series) else list(values))
    cursor = raw.cursor()
    try:
        cursor.execute(statement, (param,))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pl.DataFrame(rows, schema=schema, orient="row")


def existing_receipts(uow: UnitOfWork, keys: pl.DataFrame) -> pl.DataFrame:
    """Receipts already recorded under the keys (store_id, terminal_id, receipt_no) given.

    One statement joins the keys with the receipt table through its unique index; the
    answer has ``terminal_id``, ``receipt_no``, the stored ``known_hash``, and the receipt's
    ``known_id`` and ``known_source`` (whose hash it is: ``sales.content``).
    """
    schema = {
        "terminal_id": pl.Int64,
        "receipt_no": pl.String,
        "known_hash": pl.String,
        "known_id": pl.Int64,
        "known_source": pl.String,
    }
    if keys.is_empty():
        return pl.DataFrame(schema=schema)
    raw, pg = driver(uow)
    cursor = raw.cursor()
    try:
        if pg:
            cursor.execute(
                "SELECT r.terminal_id, r.receipt_no, r.content_hash, r.id, r.source"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS k(s, t, n)"
                " JOIN receipt r ON r.store_id = k.s AND r.terminal_id = k.t"
                " AND r.receipt_no = k.n",
                tuple(pg_array(keys[c]) for c in ("store_id", "terminal_id", "receipt_no")),
            )
        else:
            # CROSS JOIN keeps SQLite's loop order: each key probes the unique index.
            cursor.execute(
                "SELECT r.terminal_id, r.receipt_no, r.content_hash, r.id, r.source"
                " FROM json_each(?) AS k CROSS JOIN receipt AS r"
                " WHERE r.store_id = json_extract(k.value, '$[0]')"
                " AND r.terminal_id = json_extract(k.value, '$[1]')"
                " AND r.receipt_no = json_extract(k.value, '$[2]')",
                (json.dumps(keys.select("store_id", "terminal_id", "receipt_no").rows()),),
            )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pl.DataFrame(rows, schema=schema, orient="row")


class KeyTaken(Exception):
    """A write of :func:`key_guard` met a unique key another transaction took since."""


# SQLSTATE of "unique_violation".
_UNIQUE_VIOLATION = "23505"
_GUARD = "regulars_key_guard"


@contextmanager
def key_guard(uow: UnitOfWork) -> Iterator[None]:
    """Run writes that may meet a key taken since it was looked for; on PostgreSQL a
    unique violation undoes them alone (a savepoint) and raises :class:`KeyTaken`.

    Imports take turns (:func:`import_turn`), but a till does not take them: a receipt it
    records between the batch's look-up and its write takes the key (on PostgreSQL the
    write waits for the till's transaction, then fails). The caller looks again and
    writes the rest. SQLite needs nothing: the batch holds the write lock from its
    ``BEGIN IMMEDIATE``, so no till writes in between.
    """
    raw, pg = driver(uow)
    if not pg:
        yield
        return
    with raw.cursor() as cursor:
        cursor.execute(f"SAVEPOINT {_GUARD}")
    try:
        yield
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        with raw.cursor() as cursor:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {_GUARD}")
            cursor.execute(f"RELEASE SAVEPOINT {_GUARD}")
        raise KeyTaken(str(exc)) from exc
    with raw.cursor() as cursor:
        cursor.execute(f"RELEASE SAVEPOINT {_GUARD}")


def reserve_ids(uow: UnitOfWork, table: str, count: int) -> pl.Series:
    """Reserve ``count`` ids of ``table`` for rows about to be written, in one statement.

    PostgreSQL: ``count`` values of the table's id sequence, fetched as one array (other
    sessions may take values in between, so they need not be contiguous). SQLite: the
    next ``count`` ids after ``max(id)``; the transaction holds the write lock since its
    ``BEGIN IMMEDIATE``, so nobody else can take them.
    """
    raw, pg = driver(uow)
    cursor = raw.cursor()
    try:
        if pg:
            # The sequence is looked up once: ``nextval(pg_get_serial_sequence(…))`` would
            # resolve it again for every value, ten times the cost of the values themselves.
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid", (table,))
            sequence = int(cursor.fetchone()[0])
            cursor.execute(
                "SELECT array_agg(nextval(%s::oid::regclass)) FROM generate_series(1, %s)",
                (sequence, count),
            )
            ids = list(cursor.fetchone()[0])
            return pl.Series("id", ids, dtype=pl.Int64)
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        top = int(cursor.fetchone()[0])
    finally:
        cursor.close()
    return pl.int_range(top + 1, top + count + 1, dtype=pl.Int64, eager=True).alias("id")


def write_rows(uow: UnitOfWork, table: str, frame: pl.DataFrame) -> None:
    """Append the rows of ``frame`` to ``table`` (columns by name, values as stored)."""
    if frame.is_empty():
        return
    raw, pg = driver(uow)
    names = ", ".join(frame.columns)
    if pg:
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, null_value="")
        sql = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(buffer.getbuffer())
        return
    marks = ", ".join("?" for _c in frame.columns)
    cursor = raw.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", frame.rows())
    finally:
        cursor.close()


def update_from(uow: UnitOfWork, sql: str, frame: pl.DataFrame, types: dict[str, str]) -> None:
    """Run ``sql`` whose ``{rows}`` is a relation ``v`` of the rows of ``frame``, in one statement.

    ``types`` gives each column of ``frame`` its PostgreSQL type (``bigint``, ``text``,
    ``timestamptz`` …); values are as stored (see ``write_rows``). ``{rows}`` becomes
    ``unnest(%s::t1[], …) AS v(c1, …)`` on PostgreSQL (a parameter per column) and a
    ``json_each`` of one JSON parameter on SQLite.
    """
    if frame.is_empty():
        return
    raw, pg = driver(uow)
    names = list(frame.columns)
    params: tuple[object, ...]
    if pg:
        arrays = ", ".join(f"%s::{types[n]}[]" for n in names)
        rows = f"unnest({arrays}) AS v({', '.join(names)})"
        params = tuple(pg_array(frame[n]) for n in names)
    else:
        picks = ", ".join(f"json_extract(value, '$[{i}]') AS {n}" for i, n in enumerate(names))
        rows = f"(SELECT {picks} FROM json_each(?)) AS v"
        params = (json.dumps(frame.rows()),)
    cursor = raw.cursor()
    try:
        cursor.execute(sql.format(rows=rows), params)
    finally:
        cursor.close()
