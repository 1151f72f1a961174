"""Tables of the loyalty domain: the programme, its rules, tiers and rewards, the ledger,
accounts and member coupons."""

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
    # The birthday coupon: this much off a spend of at least the minimum, valid through the
    # birthday month; 0 issues none (the greeting then only announces the bonus points).
    birthday_coupon_value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    birthday_coupon_min_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
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


class LoyaltyReward(Base):
    """A reward of the catalogue that members buy with points: a coupon or a gift.

    ``kind`` ``amount`` takes ``value`` off a spend of at least ``min_spend``; ``percent``
    takes ``value`` % off, at most ``max_discount``; ``gift`` is handed over at the till or
    the service desk. ``stock`` (None: unlimited) counts the rewards left to exchange.
    Rewards are retired (``active`` off), never deleted: coupons name the reward they came from.
    """

    __tablename__ = "loyalty_reward"
    __table_args__ = (
        UniqueConstraint("programme_id", "code"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("loyalty_programme.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    max_discount: Mapped[Decimal | None] = mapped_column(Money)
    min_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    valid_days: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberCoupon(Base):
    """A coupon issued to one member, honoured once at the till.

    ``code`` is random (80 bits, Crockford base32) so it cannot be guessed, and the till
    must also name the coupon's member. ``source`` says why it exists: ``birthday``
    (``period`` is the year: at most one per member and year, by the unique constraint),
    ``points`` (bought with the ledger line ``points_line_id`` from ``reward_id``) or
    ``compensation`` (issued by staff with a ``reason``). ``status`` goes from ``issued``
    to ``redeemed`` (with ``receipt_id``, ``redeemed_at`` and the ``discount`` given),
    ``expired`` or ``void``. ``receipt_id`` names the receipt without a foreign key: loyalty
    sits below sales and never refers to its tables, like a ledger line's ``source_id``.
    """

    __tablename__ = "member_coupon"
    __table_args__ = (
        UniqueConstraint("member_id", "source", "period"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("ix_member_coupon_member_status", "member_id", "status"),
        Index("ix_member_coupon_status_valid_to", "status", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    # Coupons follow a member merge to the survivor (loyalty's merge hook first clears a
    # birthday period the survivor already holds, so the unique constraint still holds).
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(100))
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    max_discount: Mapped[Decimal | None] = mapped_column(Money)
    min_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(20))
    period: Mapped[str | None] = mapped_column(String(10))
    reward_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_reward.id"), index=True)
    points_line_id: Mapped[int | None] = mapped_column(ForeignKey("points_line.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_id: Mapped[int | None] = mapped_column(Integer, index=True)
    discount: Mapped[Decimal | None] = mapped_column(Money)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
