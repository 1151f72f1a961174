"""Delivering the outbox: claim due messages, send each outside the transaction, record it.

A message is claimed by moving it from ``pending`` to ``sending`` with a conditional
update, so two dispatchers (the server's scheduler and ``regulars outbox send``) never
send the same message. It is then sent with no transaction open, and its outcome recorded:
``sent``; back to ``pending`` with a later ``next_attempt_at`` after a passing failure
(1, 5, 30, 120 minutes); ``failed`` after a permanent refusal or the fifth try. A message
left ``sending`` by a process that died is retried after ``STUCK_MINUTES``: delivery is
at least once, and a crash between the send and the record could repeat one message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from regulars.core.config import get_settings
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.notify.models import OutboxMessage
from regulars.notify.queries import outbox_recipient
from regulars.notify.senders import DeliveryError, Transport, transports_from

__all__ = ["BACKOFF_MINUTES", "MAX_ATTEMPTS", "outbox_dispatch"]

BACKOFF_MINUTES = (1, 5, 30, 120)
MAX_ATTEMPTS = len(BACKOFF_MINUTES) + 1
STUCK_MINUTES = 15


def _claim(uow: UnitOfWork, channels: list[str], now: datetime, limit: int) -> list[int]:
    """Move up to ``limit`` due messages of ``channels`` to ``sending``; their ids."""
    uow.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "sending",
            OutboxMessage.next_attempt_at <= now - timedelta(minutes=STUCK_MINUTES),
        )
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    due = (OutboxMessage.next_attempt_at.is_(None)) | (OutboxMessage.next_attempt_at <= now)
    candidates = list(
        uow.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.channel.in_(channels), due)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
        )
    )
    claimed = []
    for message_id in candidates:
        # next_attempt_at doubles as "claimed at" while sending (for the stuck check).
        moved = uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="sending", next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(moved, "rowcount", 0) or 0) == 1:
            claimed.append(message_id)
    uow.commit()
    return claimed


def _record(uow: UnitOfWork, message_id: int, now: datetime, error: DeliveryError | None) -> str:
    """Write the outcome of one try; the message's new status."""
    message = uow.session.get(OutboxMessage, message_id)
    if message is None:  # erased meanwhile
        return "gone"
    message.attempts += 1
    if error is None:
        message.status, message.sent_at, message.next_attempt_at = "sent", now, None
        message.last_error = None
    elif error.permanent or message.attempts >= MAX_ATTEMPTS:
        message.status, message.next_attempt_at = "failed", None
        message.last_error = str(error)[:300]
    else:
        wait = BACKOFF_MINUTES[min(message.attempts, len(BACKOFF_MINUTES)) - 1]
        message.status, message.next_attempt_at = "pending", now + timedelta(minutes=wait)
        message.last_error = str(error)[:300]
    uow.commit()
    return message.status


def outbox_dispatch(
    session_factory: sessionmaker[Session],
    *,
    transports: Mapping[str, Transport] | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> dict[str, int]:
    """Send what is due; counts of ``sent``, ``retry``, ``failed`` and ``waiting``.

    ``waiting`` counts pending messages of a channel with no transport configured (they
    stay in the outbox until one is). ``transports`` defaults to those the settings name;
    transports passed in belong to the caller, who closes them.
    """
    now = now or utcnow()
    owned = transports is None
    chosen = dict(transports) if transports is not None else transports_from(get_settings())
    counts: Counter[str] = Counter()
    try:
        with UnitOfWork(session_factory) as uow:
            claimed = _claim(uow, sorted(chosen), now, limit)
            counts["waiting"] = int(
                uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.channel.not_in(sorted(chosen) or [""]),
                    )
                )
                or 0
            )
        for message_id in claimed:
            with UnitOfWork(session_factory) as uow:
                message = uow.session.get(OutboxMessage, message_id)
                if message is None:
                    continue
                channel, subject, body = message.channel, message.subject, message.body
                recipient = outbox_recipient(message)
            error: DeliveryError | None = None
            if not recipient:
                error = DeliveryError("no recipient (erased)", permanent=True)
            else:
                try:
                    chosen[channel].send(recipient=recipient, subject=subject, body=body)
                except DeliveryError as exc:
                    error = exc
            with UnitOfWork(session_factory) as uow:
                status = _record(uow, message_id, utcnow(), error)
            counts[{"sent": "sent", "pending": "retry"}.get(status, "failed")] += 1
    finally:
        for transport in chosen.values() if owned else ():
            transport.close()
    return {key: counts.get(key, 0) for key in ("sent", "retry", "failed", "waiting")}
