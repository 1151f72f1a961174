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
from collections.abc import Sequence
from typing import Any

import polars as pl

from regulars.core.db import is_postgres
from regulars.core.uow import UnitOfWork


def _driver(uow: UnitOfWork) -> tuple[Any, bool]:
    """The DBAPI connection of the unit of work's transaction and whether it is PostgreSQL."""
    connection = uow.session.connection()
    return connection.connection.driver_connection, is_postgres(connection.dialect)


def is_pg(uow: UnitOfWork) -> bool:
    """Tell whether the unit of work runs on PostgreSQL."""
    return is_postgres(uow.session.get_bind().dialect)


def fetch_in(
    uow: UnitOfWork, sql: str, values: Sequence[Any], schema: dict[str, Any]
) -> pl.DataFrame:
    """Run ``sql`` whose ``{values}`` is a membership test against ``values``, as a frame.

    ``sql`` is written with ``x {values}``: it becomes ``x = ANY(%s)`` on PostgreSQL and
    ``x IN (SELECT value FROM json_each(?))`` on SQLite, so the whole list is one parameter
    and one statement, however long.
    """
    if not values:
        return pl.DataFrame(schema=schema)
    raw, pg = _driver(uow)
    param: object
    if pg:
        statement, param = sql.format(values="= ANY(%s)"), list(values)
    else:
        statement = sql.format(values="IN (SELECT value FROM json_each(?))")
        param = json.dumps(list(values))
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
    answer has ``terminal_id``, ``receipt_no`` and the stored ``known_hash``.
    """
    schema = {"terminal_id": pl.Int64, "receipt_no": pl.String, "known_hash": pl.String}
    if keys.is_empty():
        return pl.DataFrame(schema=schema)
    raw, pg = _driver(uow)
    cursor = raw.cursor()
    try:
        if pg:
            cursor.execute(
                "SELECT r.terminal_id, r.receipt_no, r.content_hash"
                " FROM unnest(%s::int[], %s::int[], %s::text[]) AS k(s, t, n)"
                " JOIN receipt r ON r.store_id = k.s AND r.terminal_id = k.t"
                " AND r.receipt_no = k.n",
                (
                    keys["store_id"].to_list(),
                    keys["terminal_id"].to_list(),
                    keys["receipt_no"].to_list(),
                ),
            )
        else:
            # CROSS JOIN keeps SQLite's loop order: each key probes the unique index.
            cursor.execute(
                "SELECT r.terminal_id, r.receipt_no, r.content_hash"
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


def reserve_ids(uow: UnitOfWork, table: str, count: int) -> pl.Series:
    """Reserve ``count`` ids of ``table`` for rows about to be written, in one statement.

    PostgreSQL: ``count`` values of the table's id sequence, fetched as one array (other
    sessions may take values in between, so they need not be contiguous). SQLite: the
    next ``count`` ids after ``max(id)``; the transaction holds the write lock since its
    ``BEGIN IMMEDIATE``, so nobody else can take them.
    """
    raw, pg = _driver(uow)
    cursor = raw.cursor()
    try:
        if pg:
            cursor.execute(
                "SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id')))"
                " FROM generate_series(1, %s)",
                (table, count),
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
    raw, pg = _driver(uow)
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
