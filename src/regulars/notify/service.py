"""Writes of the notify domain: queue a message, record its delivery.

Messages wait in the outbox with status ``pending`` until :mod:`regulars.notify.dispatch`
sends them (SMTP for email, the SMS gateway) — every minute from the server's scheduler,
or with ``regulars outbox send``. A channel with no transport configured keeps its
messages pending.
"""

from __future__ import annotations

from regulars.core.crypto import get_cipher
from regulars.core.errors import InvalidInput
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
