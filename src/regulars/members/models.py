"""Tables of the members domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, UTCDateTime
from regulars.core.timeutil import utcnow


class Member(Base):
    """A registered customer: identity, basic, special and household data."""

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Personal data at rest: ciphertext plus a blind index for lookups, never the plain number.
    mobile_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    mobile_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    mobile_masked: Mapped[str | None] = mapped_column(String(32))
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    email_masked: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100), index=True)
    gender: Mapped[str | None] = mapped_column(String(10))
    birthday: Mapped[date | None] = mapped_column(Date)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    community: Mapped[str | None] = mapped_column(String(100), index=True)
    occupation: Mapped[str | None] = mapped_column(String(100))
    hobbies: Mapped[list[str]] = mapped_column(JSON, default=list)
    preferences: Mapped[list[str]] = mapped_column(JSON, default=list)
    delivery_needs: Mapped[str | None] = mapped_column(Text)
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_purchase_category: Mapped[str | None] = mapped_column(String(200))
    household_size: Mapped[int | None]
    children_birth_years: Mapped[list[int]] = mapped_column(JSON, default=list)
    pets: Mapped[list[str]] = mapped_column(JSON, default=list)
    household_composition: Mapped[str | None] = mapped_column(String(50))
    age_band: Mapped[str | None] = mapped_column(String(20))
    income_band: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    source: Mapped[str] = mapped_column(String(20), default="staff")
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConsentEvent(Base):
    """One grant or withdrawal of consent; the newest per purpose and channel is in force."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_member_purpose", "member_id", "purpose", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)


class MemberMerge(Base):
    """The record of two duplicate members merged into one."""

    __tablename__ = "member_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("member.id"), unique=True)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MemberOtp(Base):
    """A one-time sign-in code sent to a member: only its keyed hash is stored."""

    __tablename__ = "member_otp"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A code belongs to the record it was sent for; after a merge it simply expires.
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id"), index=True, info={"merge": False}
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "sign_in", or "email_change": a code sent to a new address, which ``target_enc``
    # holds (encrypted) until the member types the code back.
    purpose: Mapped[str] = mapped_column(String(20), default="sign_in", server_default="sign_in")
    target_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class MemberSession(Base):
    """A member signed in on the member page: the cookie holds a random id, this row its hash."""

    __tablename__ = "member_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sessions of a merged duplicate end with it rather than moving to the survivor.
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id"), index=True, info={"merge": False}
    )
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
