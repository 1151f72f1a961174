"""The audit trail: append-only records of staff reads and sensitive changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.staff.models import AuditEvent, StaffAccount


def audit_record(
    uow: UnitOfWork,
    *,
    actor: StaffAccount | str,
    action: str,
    member_id: int | None = None,
    page: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event (who, when, which member, which page, what)."""
    event = AuditEvent(
        at=utcnow(),
        staff_id=actor.id if isinstance(actor, StaffAccount) else None,
        actor=actor.username if isinstance(actor, StaffAccount) else actor,
        action=action,
        member_id=member_id,
        page=page,
        detail=detail or {},
    )
    uow.session.add(event)
    uow.flush()
    return event


def audit_search(
    uow: UnitOfWork,
    *,
    member_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditEvent]:
    """Find audit events, newest first."""
    query = select(AuditEvent)
    if member_id is not None:
        query = query.where(AuditEvent.member_id == member_id)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at <= until)
    return list(
        uow.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    )
