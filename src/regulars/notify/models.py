"""Tables of the notify domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, UTCDateTime
from regulars.core.timeutil import utcnow

CHANNELS = ("sms", "email")
STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    """One message waiting for (or past) delivery; the recipient is encrypted at rest."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient_enc: Mapped[bytes] = mapped_column(LargeBinary)
    recipient_masked: Mapped[str] = mapped_column(String(100))
    # The member table is named, not imported: notify sits below the members domain.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id"), index=True, info={"erase": "unlink"}
    )
    purpose: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    # Delivery: how many tries so far, the last refusal, and when to try again.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
