"""Browser sessions of staff: created at login (a new id every time), ended at logout."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.staff.models import StaffAccount, StaffSession

SESSION_HOURS = 10


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_create(uow: UnitOfWork, *, account: StaffAccount) -> tuple[str, StaffSession]:
    """Start a session; returns the cookie value (never stored) and the row."""
    session_id = secrets.token_urlsafe(32)
    row = StaffSession(
        staff_id=account.id,
        session_hash=_hash(session_id),
        csrf_token=secrets.token_urlsafe(32),
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
    )
    uow.session.add(row)
    uow.flush()
    return session_id, row


def session_find(uow: UnitOfWork, *, session_id: str) -> tuple[StaffSession, StaffAccount] | None:
    """The live session and its account for a cookie value, or ``None``."""
    row = uow.session.execute(
        select(StaffSession, StaffAccount)
        .join(StaffAccount, StaffAccount.id == StaffSession.staff_id)
        .where(StaffSession.session_hash == _hash(session_id))
    ).first()
    if row is None:
        return None
    session, account = row[0], row[1]
    if session.expires_at <= utcnow() or not account.active:
        return None
    return session, account


def session_end(uow: UnitOfWork, *, session_id: str) -> None:
    """End a session (logout)."""
    uow.session.execute(delete(StaffSession).where(StaffSession.session_hash == _hash(session_id)))


def sessions_end_for(uow: UnitOfWork, *, staff_id: int, keep: int | None = None) -> None:
    """End every session of an account (after a password change or deactivation), but the
    one whose row id is ``keep``: the session that changed its own password stays logged
    in, while whoever holds another (perhaps a stolen cookie) is logged out."""
    query = delete(StaffSession).where(StaffSession.staff_id == staff_id)
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    uow.session.execute(query)
