"""Tables of the loyalty domain: the programme, its rules and tiers, the ledger and accounts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, Money, Quantity, UTCDateTime
from regulars.core.timeutil import utcnow


class LoyaltyProgramme(Base):
    """The points programme's settings (one active programme, code ``default``).

    ``revision`` is a random token renewed on every change to the programme, its tiers or
    its multiplier rules, so processes can cache the rules and tiers safely.
    """

    __tablename__ = "loyalty_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[str] = mapped_column(String(32))
    points_per_unit: Mapped[Decimal] = mapped_column(Quantity)
    min_spend: Mapped[Decimal] = mapped_column(Money)
    member_days: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    first_purchase_bonus: Mapped[int] = mapped_column(Integer, default=0)
    birthday_bonus: Mapped[int] = mapped_column(Integer, default=0)
    redeem_points_per_unit: Mapped[int] = mapped_column(Integer)
    min_redemption: Mapped[int] = mapped_column(Integer, default=0)
    expiry_policy: Mapped[str] = mapped_column(String(10))
    expiry_months: Mapped[int] = mapped_column(Integer)
    pending_days: Mapped[int] = mapped_column(Integer)
    debt_policy: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyTier(Base):
    """A tier reached by rolling 12-month qualifying spend, with its earning multiplier."""

    __tablename__ = "loyalty_tier"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("loyalty_programme.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(50))
    rank: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[Decimal] = mapped_column(Money)
    multiplier: Mapped[Decimal] = mapped_column(Quantity)


class LoyaltyMultiplier(Base):
    """An earning multiplier for a product, category, brand or tag."""

    __tablename__ = "loyalty_multiplier"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("loyalty_programme.id"), index=True)
    target: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(100))
    multiplier: Mapped[Decimal] = mapped_column(Quantity)


class PointsAccount(Base):
    """A member's cached position, always equal to what the ledger says.

    ``balance`` is the sum of the member's ledger lines (pending points included) and equals
    the sum of the ``remaining`` of its lots; ``debt`` is the sum of the lines' ``debt``.
    """

    __tablename__ = "points_account"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One account per member: a merge folds the duplicate's account (accounts_merge)
    # instead of moving the row, which would break the unique constraint.
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id"), unique=True, info={"merge": False}
    )
    balance: Mapped[int] = mapped_column(Integer, default=0)
    debt: Mapped[int] = mapped_column(Integer, default=0)
    lifetime_earned: Mapped[int] = mapped_column(Integer, default=0)
    tier_code: Mapped[str] = mapped_column(String(20))
    tier_since: Mapped[datetime] = mapped_column(UTCDateTime)
    # Rolling 12-month spend at the last review plus spend since: never below the true
    # rolling figure, so it only has to be recomputed when it crosses a threshold.
    qualifying_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    first_earn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    birthday_bonus_year: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsLine(Base):
    """One ledger line; lines are never changed except a lot's ``remaining``.

    Positive lines (earn, adjust, compensate, transfer in) are lots: ``remaining`` is how
    many of their points are not yet spent, expired, reversed or transferred. Negative
    lines name the lots they consumed in ``detail["lots"]`` ({lot id: points}).
    """

    __tablename__ = "points_line"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        Index("ix_points_line_member_expires", "member_id", "expires_at"),
        # Live lots only: redemption order, pending and expired points read a few rows
        # even for a member holding hundreds of spent lots.
        Index(
            "ix_points_lot_expires",
            "member_id",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index(
            "ix_points_lot_available",
            "member_id",
            "available_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index("ix_points_line_source", "source_type", "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lines stay with the member they were written for (history is never rewritten); a
    # merge transfers the remaining lots with a pair of transfer lines.
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), info={"merge": False})
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[int] = mapped_column(Integer)
    debt: Mapped[int] = mapped_column(Integer, default=0)
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(100))
    linked_line_id: Mapped[int | None] = mapped_column(ForeignKey("points_line.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
