"""Reading a points grant file: which members get how many points, and which rows are bad."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from regulars.core.csvtext import CsvText
from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.loyalty.service import ADJUST_LIMIT
from regulars.members.queries import member_by_card, member_get

_WHOLE = re.compile(r"[+-]?\d{1,9}(\.0*)?")


def _points(cell: str) -> int | None:
    """A cell's points, or None unless it is a whole number within ±``ADJUST_LIMIT``.

    Read with a pattern rather than ``int(Decimal(…))``: that turned ``1.5`` into 1
    silently, failed on ``inf``, spent minutes on ``1e999999999`` and let numbers through
    that no ledger column holds.
    """
    if not _WHOLE.fullmatch(cell):
        return None
    value = int(Decimal(cell))
    return value if abs(value) <= ADJUST_LIMIT else None


def parse_grants(
    uow: UnitOfWork, content: bytes
) -> tuple[list[tuple[int, int]], list[tuple[int, str, dict[str, Any]]]]:
    """Rows of ``member_id`` or ``card_no`` and ``points``; bad rows with their line and reason."""
    text = content.decode("utf-8-sig", errors="replace")
    reader = CsvText(text)
    grants: list[tuple[int, int]] = []
    bad: list[tuple[int, str, dict[str, Any]]] = []
    columns = set(reader.columns)
    if "points" not in columns or not ({"member_id", "card_no"} & columns):
        return [], [(1, _("columns points and member_id or card_no are required"), {})]
    for record in reader:
        line, row = record.line, record.fields
        if record.error is not None:
            bad.append((line, _("the line is not valid CSV: {reason}"), {"reason": record.error}))
            continue
        cell = (row.get("points") or "").strip()
        points = _points(cell)
        if points is None:
            bad.append(
                (
                    line,
                    _("points: {value} is not a whole number between -{limit} and {limit}"),
                    {"value": cell[:20], "limit": ADJUST_LIMIT},
                )
            )
            continue
        ref = (row.get("member_id") or "").strip()
        card = (row.get("card_no") or "").strip()
        member_id: int | None = None
        if ref.isdigit() and len(ref) < 10:
            member_id = int(ref)
            try:
                member_get(uow.session, member_id=member_id)
            except DomainError:
                member_id = None
        elif card:
            found = member_by_card(uow.session, card_no=card)
            member_id = found.id if found else None
        if member_id is None:
            bad.append((line, _("member not found"), {}))
            continue
        if points == 0:
            bad.append((line, _("points must not be 0"), {}))
            continue
        grants.append((member_id, points))
    return grants, bad
