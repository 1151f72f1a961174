"""Reads of the notify domain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.core.crypto import get_cipher
from regulars.notify.models import OutboxMessage


def outbox_pending(session: Session, *, limit: int = 100) -> list[OutboxMessage]:
    """Messages waiting for delivery, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
        )
    )


def outbox_of_member(session: Session, *, member_id: int, limit: int = 50) -> list[OutboxMessage]:
    """Messages queued for one member, newest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def outbox_recipient(message: OutboxMessage) -> str | None:
    """The message's recipient in full (for the sender only)."""
    return get_cipher().decrypt(message.recipient_enc)


def outbox_recent(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    member_id: int | None = None,
    limit: int = 100,
) -> list[OutboxMessage]:
    """The newest messages, optionally of one status, channel and member (for staff: the
    member filter answers "did my code arrive?" without paging through everyone's)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    if member_id is not None:
        query = query.where(OutboxMessage.member_id == member_id)
    return list(session.scalars(query))


def outbox_counts(session: Session) -> dict[tuple[str, str], int]:
    """How many messages of each (channel, status)."""
    rows = session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.channel, OutboxMessage.status
        )
    )
    return {(channel, status): int(n) for channel, status, n in rows}
