"""Bulk load of returns: one row per returned line, recorded as a till's return would be.

A chain's journal has its returns beside its sales; after an outage they come in a file.
The rows of one return (same store, terminal and receipt number, in file order) become
one ``sales.schemas.ReturnIn`` and go through ``sales.service.return_record``, the till's
own path: the original receipt (by its store, terminal and number), the original lines
(by their number), never more returned than bought, the refund pro rata when no amount
is given, and the member's points taken back when the original earned them. So a file
and a till cannot disagree on what a return does.

Returns are few beside sales (a fraction of a per cent of receipts), so they are loaded
one by one, each in its own savepoint: a refused return is reported, line by line, and
the others load. Loading a file twice changes nothing (the same request is a replay), and
a return a till already sent is *unchanged* when it is the same return as stored
(``sales.content.ReturnContent``). Checks here are those a file adds to the till's: the
rows of a return agree on its time, cashier, original, payment method and reason; a
payment needs the refund of every line (its amount is their sum).
"""

from __future__ import annotations

import re
from contextlib import suppress
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl
from pydantic import ValidationError

from regulars.catalog.queries import Coded
from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import _, reader_locale
from regulars.core.reasons import error_place, validation_reason
from regulars.core.uow import UnitOfWork
from regulars.imports import checks
from regulars.imports.formats import LINE
from regulars.imports.outcome import NUL, Checkpoint, Outcome, Progress, say
from regulars.imports.receipts import places_ensure
from regulars.sales import service as sales
from regulars.sales.schemas import ReturnIn

# Returns per commit: on SQLite each batch holds the write lock (tills wait behind it).
BATCH = 200
# What every row of one return must say alike (a return has one time, one original ...).
SHARED = (
    "occurred_at",
    "cashier",
    "original_store",
    "original_terminal",
    "original_receipt_no",
    "payment_method",
    "reason",
)
_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(\w+)")


def _key_problems(row: dict[str, Any]) -> tuple[str, str] | None:
    """The first fault of a row's store and terminal codes (column, reason), if any."""
    for column in ("store", "terminal"):
        value = row[column]
        if value is None:
            return column, say(_("required"))
        if not re.fullmatch(checks.CODE, str(value)):
            return column, say(_("not a valid code"))
    if row["receipt_no"] is None:
        return "receipt_no", say(_("required"))
    return None


def _groups(frame: pl.DataFrame, outcome: Outcome) -> list[list[dict[str, Any]]]:
    """The rows of each return, in file order; rows without a usable key are reported."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        fault = _key_problems(row)
        if fault is not None:
            outcome.add(int(row[LINE]), fault[0], fault[1], row[fault[0]])
            continue
        groups.setdefault((row["store"], row["terminal"], row["receipt_no"]), []).append(row)
    return list(groups.values())


def _disagreements(rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(row index, column, reason) for each row that differs from the return's first."""
    first = rows[0]
    found: list[tuple[int, str, str]] = []
    for index, row in enumerate(rows[1:], start=1):
        for column in SHARED:
            if row[column] != first[column]:
                reason = say(_("differs from line {line} of the same receipt"), line=first[LINE])
                found.append((index, column, reason))
    if len(rows) > checks.MAX_LINES:
        too_many = say(_("a receipt has at most {n} lines"), n=checks.MAX_LINES)
        found.append((0, "receipt_no", too_many))
    return found


def _payment(rows: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[tuple[int, str, str]]]:
    """The return's payment (one, of the refunds' sum) or why there cannot be one."""
    method = rows[0]["payment_method"]
    if method is None:
        return [], []
    total = Decimal("0")
    faults: list[tuple[int, str, str]] = []
    for index, row in enumerate(rows):
        if row["amount"] is None:
            need = say(_("give each line's refund with a payment method"))
            faults.append((index, "amount", need))
            continue
        with suppress(InvalidOperation):  # the schema reports a malformed amount
            total += Decimal(str(row["amount"]))
    return [{"method": method, "amount": str(total)}], faults


def _given(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The cells of ``names`` the row fills (an empty cell is no value: "required")."""
    return {name: row[name] for name in names if row.get(name) is not None}


# The return's own fields, read from its first row (the lines and payment are built apart).
_HEAD = tuple(name for name in ReturnIn.model_fields if name not in ("lines", "payments"))


def _request(rows: list[dict[str, Any]], payments: list[dict[str, str]]) -> dict[str, Any]:
    return {
        **_given(rows[0], _HEAD),
        "lines": [_given(row, ("line_no", "quantity", "amount")) for row in rows],
        "payments": payments,
    }


def _place(field: str) -> tuple[int, str]:
    """The row (index within the return) and the file column a request field names."""
    match = _LINE_FIELD.match(field)
    if match:
        return int(match.group(1)), match.group(2)
    name = field.split(".", 1)[0].split("[", 1)[0]
    if name == "payments":
        return 0, "payment_method"
    if name == "lines":
        return 0, "line_no"
    return 0, name or "receipt_no"


def _report(
    outcome: Outcome, rows: list[dict[str, Any]], faults: list[tuple[int, str, str]]
) -> None:
    """Report the faulty rows and leave the whole return out: each other row is named as
    belonging to a return with a bad line."""
    for index, column, reason in faults:
        row = rows[min(index, len(rows) - 1)]
        value = row.get(column)
        outcome.add(int(row[LINE]), column, reason, None if value is None else str(value))
    first_bad = min(int(rows[min(i, len(rows) - 1)][LINE]) for i, _c, _r in faults)
    for row in rows:
        if int(row[LINE]) not in outcome.bad_lines:
            outcome.add(
                int(row[LINE]),
                "receipt_no",
                say(_("receipt {no} has a bad line {line}"), no=row["receipt_no"], line=first_bad),
                str(row["receipt_no"]),
            )


def _nul_faults(rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(row index, column, reason) of each row's first cell holding a NUL character."""
    found = []
    for index, row in enumerate(rows):
        column = next((c for c, v in row.items() if isinstance(v, str) and NUL in v), None)
        if column is not None:
            found.append((index, column, say(_("contains a NUL character"))))
    return found


def _validated(rows: list[dict[str, Any]], outcome: Outcome) -> ReturnIn | None:
    faults = _nul_faults(rows)
    if faults:
        _report(outcome, rows, faults)
        return None
    faults = _disagreements(rows)
    payments, payment_faults = _payment(rows)
    faults += payment_faults
    locale = reader_locale() or get_settings().default_locale
    try:
        data = ReturnIn.model_validate(_request(rows, payments))
    except ValidationError as exc:
        places = [(error_place(err), err) for err in exc.errors()]
        # The payment is the refunds' sum: a bad refund is reported once, on its line.
        refunds_bad = any(re.match(r"lines\[\d+\]\.amount", place) for place, _e in places)
        for place, err in places:
            if refunds_bad and place.startswith("payments"):
                continue
            index, column = _place(place)
            faults.append((index, column, validation_reason(err, locale)))
        data = None
    if faults:
        _report(outcome, rows, faults)
        return None
    return data


def returns_load(
    uow: UnitOfWork,
    frame: pl.DataFrame,
    *,
    outcome: Outcome,
    source: str = "import",
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> None:
    """Load return lines (see the module docstring)."""
    outcome.total += frame.height
    checked = [(rows, _validated(rows, outcome)) for rows in _groups(frame, outcome)]
    good = [(rows, data) for rows, data in checked if data is not None]
    keys = pl.DataFrame(
        [(rows[0]["store"], rows[0]["terminal"]) for rows, _data in good],
        schema={"store": pl.String, "terminal": pl.String},
        orient="row",
    )
    # Unknown stores and tills are created, as for receipts (history from old tills).
    places = places_ensure(uow, keys, is_demo=False) if good else {}
    done = frame.height - sum(len(rows) for rows, _data in good)
    for count, (rows, data) in enumerate(good, start=1):
        store_id, terminal_id = places[(rows[0]["store"], rows[0]["terminal"])]
        store = Coded(id=store_id, code=rows[0]["store"])
        terminal = Coded(id=terminal_id, code=rows[0]["terminal"])
        savepoint = uow.session.begin_nested()
        try:
            recorded = sales.return_record(
                uow, store=store, terminal=terminal, data=data, source=source
            )
        except DomainError as exc:
            savepoint.rollback()
            index, column = _place(exc.field or "receipt_no")
            _report(outcome, rows, [(index, column, say(exc.message, **exc.params))])
        else:
            savepoint.commit()
            if recorded.replayed:
                outcome.unchanged += len(rows)
            else:
                outcome.loaded += len(rows)
        done += len(rows)
        if count % BATCH == 0 or count == len(good):
            uow.flush()
            if checkpoint is not None:
                checkpoint()
            if progress is not None:
                progress("returns", done, frame.height)
