"""Reading a points grant file: which members get how many points, and which rows are bad."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from regulars.core.csvtext import CsvText
from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.members.queries import member_by_card, member_get


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
        try:
            points = int(Decimal((row.get("points") or "").strip()))
        except (InvalidOperation, ValueError):
            bad.append(
                (
                    line,
                    _("points: {value} is not a whole number"),
                    {"value": row.get("points") or ""},
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
