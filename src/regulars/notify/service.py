"""Writes of the notify domain: queue a message, record its delivery.

Nothing is delivered yet: messages wait in the outbox with status ``pending``. A later
issue adds the senders (SMTP for email, an SMS gateway) that pick pending messages up
and call :func:`outbox_mark_sent` or :func:`outbox_mark_failed`. Until then tests and
operators read the outbox.
"""

from __future__ import annotations

from regulars.core.crypto import get_cipher
from regulars.core.errors import InvalidInput, NotFound
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.notify.models import CHANNELS, OutboxMessage


def mask_recipient(channel: str, recipient: str) -> str:
    """A recipient as it may be displayed: ``138****1234`` or ``z***@example.com``."""
    if channel == "email":
        local, _at, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    national = recipient[3:] if recipient.startswith("+86") else recipient
    if len(national) < 8:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


def outbox_enqueue(
    uow: UnitOfWork,
    *,
    channel: str,
    recipient: str,
    subject: str | None,
    body: str,
    member_id: int | None,
    purpose: str,
) -> OutboxMessage:
    """Queue a message for delivery (status ``pending``); nothing is sent here."""
    if channel not in CHANNELS:
        raise InvalidInput(_("{value} is not a message channel"), field="channel", value=channel)
    message = OutboxMessage(
        channel=channel,
        recipient_enc=get_cipher().encrypt(recipient),
        recipient_masked=mask_recipient(channel, recipient),
        member_id=member_id,
        purpose=purpose,
        subject=subject,
        body=body,
        created_at=utcnow(),
        status="pending",
    )
    uow.session.add(message)
    uow.flush()
    return message


def _get(uow: UnitOfWork, message_id: int) -> OutboxMessage:
    message = uow.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(_("message {id} not found"), field="message_id", id=message_id)
    return message


def outbox_mark_sent(uow: UnitOfWork, *, message_id: int) -> OutboxMessage:
    """Record that a sender delivered the message."""
    message = _get(uow, message_id)
    message.status = "sent"
    message.sent_at = utcnow()
    uow.flush()
    return message


def outbox_mark_failed(uow: UnitOfWork, *, message_id: int) -> OutboxMessage:
    """Record that a sender gave up on the message."""
    message = _get(uow, message_id)
    message.status = "failed"
    uow.flush()
    return message
