"""The audit trail: append-only records of staff reads and sensitive changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

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
    offset: int = 0,
) -> list[AuditEvent]:
    """Find audit events, newest first; ``offset`` skips that many of the newest (paging)."""
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
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
    return list(uow.session.scalars(query))


def audit_last_logins(uow: UnitOfWork) -> dict[int, datetime]:
    """When each account last logged in (a page or the API), by staff id (from the trail:
    the account itself keeps no such time)."""
    rows = uow.session.execute(
        select(AuditEvent.staff_id, func.max(AuditEvent.at))
        .where(AuditEvent.action == "login", AuditEvent.staff_id.is_not(None))
        .group_by(AuditEvent.staff_id)
    )
    return {staff_id: at for staff_id, at in rows if staff_id is not None and at is not None}
