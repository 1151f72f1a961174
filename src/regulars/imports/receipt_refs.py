"""The references of a receipts batch: checked once per parent, not once per written row.

PostgreSQL checks a foreign key with an internal trigger per written row: for each
receipt, a ``SELECT … FOR KEY SHARE`` of its store, till and member; for each line, of
its receipt and product. For a large import these checks were two thirds of the
database's time. A batch checks the same thing set-based instead:

1. ``parents_lock`` locks the distinct parents the batch's rows name — stores, tills,
   members, products — with one ``SELECT id … FOR KEY SHARE`` per table (the lock the
   trigger takes, once per key instead of once per row) and leaves out the receipts
   whose parent is gone (deleted since the file was resolved), reporting their lines as
   bad rows. The locks are held until the batch commits: a concurrent ``DELETE`` of a
   locked parent waits, and then fails on the rows the batch wrote, as with the
   triggers. A line's ``receipt_id`` names a receipt of its own batch (``line_rows``
   joins lines to the batch's receipts). The columns the import never writes
   (``original_receipt_id``, ``original_line_id``) stay NULL, which no key checks.
2. ``RowTriggers.skipped`` writes the rows with ``session_replication_role = replica``
   (``SET LOCAL``, put back right after the writes), under which the RI triggers do
   not fire. Setting it needs a superuser or, from PostgreSQL 15,
   ``GRANT SET ON PARAMETER session_replication_role``; when refused, the rows are
   written with the triggers, as before (they then check again what step 1 checked).
   Replica mode silences every ordinary trigger and rule too, so it is used only while
   ``receipt`` and ``receipt_line`` have none and exactly the foreign keys of
   ``FOREIGN_KEYS`` (``schema_problems``, read once per import): a trigger, rule or key
   added later turns it off rather than being skipped.

On SQLite, step 1 runs without locks (a batch holds the database's write lock from its
``BEGIN IMMEDIATE``) and SQLite checks the keys per row itself (``PRAGMA foreign_keys``
cannot change inside a transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl

from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk
from regulars.imports.outcome import Outcome, say
from regulars.imports.receipt_checks import bad, spread_bad_receipts

__all__ = ["FOREIGN_KEYS", "RowTriggers", "parents_lock", "schema_problems"]

# (table, column, parent table) of every foreign key of the tables an import writes.
# ``parents_lock`` covers each: the first five by their locks (or, for ``receipt_id``,
# by construction), the two return links by never being written.
FOREIGN_KEYS = frozenset(
    {
        ("receipt", "store_id", "store"),
        ("receipt", "terminal_id", "terminal"),
        ("receipt", "member_id", "member"),
        ("receipt_line", "product_id", "product"),
        ("receipt_line", "receipt_id", "receipt"),
        ("receipt", "original_receipt_id", "receipt"),
        ("receipt_line", "original_line_id", "receipt_line"),
    }
)
TABLES = ("receipt", "receipt_line")
# SQLSTATE of "permission denied to set parameter".
_INSUFFICIENT_PRIVILEGE = "42501"
_SAVEPOINT = "regulars_row_triggers"


def _missing(uow: UnitOfWork, table: str, ids: pl.Series, *, lock: bool) -> set[int]:
    """The ids among ``ids`` (distinct) that ``table`` lacks; the others locked if ``lock``.

    The locking statement only counts what it locked (no list comes back); the ids are
    read, a second time, only when some are missing.
    """
    if ids.is_empty():
        return set()
    locked = " FOR KEY SHARE" if lock else ""
    sql = f"SELECT count(*) FROM (SELECT id FROM {table} WHERE id {{values}}{locked}) AS k"
    if bulk.fetch_in(uow, sql, ids, {"n": pl.Int64}).item() == ids.len():
        return set()
    found = bulk.fetch_in(uow, f"SELECT id FROM {table} WHERE id {{values}}", ids, {"id": pl.Int64})
    return set(ids.to_list()) - set(found["id"].to_list())


def parents_lock(uow: UnitOfWork, lines: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """Lock the parents ``lines`` name; return them without the receipts whose parent is gone.

    ``lines`` are a batch's resolved lines (``store_id``, ``terminal_id``, ``member_id``,
    ``product_id`` and the file's columns). A line whose product, member, store or till
    no longer exists is reported like an unknown one; the other lines of its receipt
    are reported with "receipt … has a bad line …".
    """
    lock = bulk.is_pg(uow)
    missing: list[tuple[pl.Expr, str, str | pl.Expr]] = []
    for table, column in (
        ("store", "store_id"),
        ("terminal", "terminal_id"),
        ("member", "member_id"),
        ("product", "product_id"),
    ):
        gone = _missing(uow, table, lines[column].drop_nulls().unique(), lock=lock)
        if not gone:
            continue
        named = pl.col(column).is_in(list(gone))
        if table == "store":
            store = say(_("store {code} not found"), code="{}")
            missing.append((named, "store", pl.format(store, pl.col("store"))))
        elif table == "terminal":
            till = say(_("terminal {code} not found"), code="{}")
            missing.append((named, "terminal", pl.format(till, pl.col("terminal"))))
        elif table == "member":
            for name in ("member_card", "member_mobile", "member_ref"):
                missing.append(
                    (named & pl.col(name).is_not_null(), name, say(_("member not found")))
                )
        else:
            given = pl.col("barcode").is_not_null()
            missing.append((named & given, "barcode", say(_("product not found"))))
            missing.append((named & ~given, "sku", say(_("product not found"))))
    if not missing:
        return lines
    for mask, name, reason in missing:
        bad(outcome, lines, mask, name, reason)
    return spread_bad_receipts(lines, outcome)


def schema_problems(uow: UnitOfWork) -> list[str]:
    """What stops writing ``receipt`` and ``receipt_line`` without their triggers (PostgreSQL).

    Any trigger other than the foreign keys' own, any rule, and any foreign key not in
    ``FOREIGN_KEYS`` (or over several columns) would be skipped silently
    in replica mode; each is named here. An empty list: nothing but ``FOREIGN_KEYS``.
    """
    raw, _pg = bulk.driver(uow)
    tables = bulk.pg_array(list(TABLES))
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass::text FROM pg_trigger"
            " WHERE tgrelid = ANY(%(t)s::text[]::regclass[]) AND NOT tgisinternal"
            " UNION ALL"
            " SELECT 'rule ' || rulename || ' on ' || ev_class::regclass::text FROM pg_rewrite"
            " WHERE ev_class = ANY(%(t)s::text[]::regclass[])",
            {"t": tables},
        )
        problems = [str(row[0]) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text,"
            " cardinality(c.conkey), c.conname"
            " FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND c.conrelid = ANY(%(t)s::text[]::regclass[])",
            {"t": tables},
        )
        keys = cursor.fetchall()
    found: set[tuple[str, str, str]] = set()
    for table, column, parent, width, name in keys:
        found.add((str(table), str(column), str(parent)))
        if width != 1 or (table, column, parent) not in FOREIGN_KEYS:
            problems.append(f"foreign key {name} on {table}")
    problems += [f"foreign key on {t}.{c} missing" for t, c, _p in sorted(FOREIGN_KEYS - found)]
    return problems


@dataclass
class RowTriggers:
    """Whether one import writes its rows without per-row triggers, found at its first batch.

    ``skipping`` is ``None`` until the first write tries, then ``True`` (the schema has
    nothing but ``FOREIGN_KEYS`` and the role may set ``session_replication_role``) or
    ``False`` for the rest of the import (the attempt is not repeated per batch).
    """

    skipping: bool | None = None

    @contextmanager
    def skipped(self, uow: UnitOfWork) -> Iterator[bool]:
        """Run the block with the triggers of the session off if allowed; yield whether they are.

        Use it only around writes whose parents ``parents_lock`` has locked in the same
        transaction. The setting is local to the transaction and put back after the
        block; if the block fails the transaction's rollback puts it back.
        """
        raw, pg = bulk.driver(uow)
        if not pg or self.skipping is False:
            yield False
            return
        if self.skipping is None and schema_problems(uow):
            self.skipping = False
            yield False
            return
        with raw.cursor() as cursor:
            cursor.execute("SELECT current_setting('session_replication_role')")
            before = str(cursor.fetchone()[0])
            cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
            try:
                cursor.execute("SET LOCAL session_replication_role = replica")
            except Exception as exc:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                if getattr(exc, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
                    raise
                self.skipping = False
            else:
                cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                self.skipping = True
        if not self.skipping:
            yield False
            return
        try:
            yield True
        except BaseException:
            # A failed statement aborted the transaction, whose rollback restores the
            # setting; after an error of our own the transaction is still usable.
            if raw.info.transaction_status.name == "INTRANS":
                _restore(raw, before)
            raise
        _restore(raw, before)


def _restore(raw: Any, before: str) -> None:
    with raw.cursor() as cursor:
        cursor.execute("SELECT set_config('session_replication_role', %s, true)", (before,))
