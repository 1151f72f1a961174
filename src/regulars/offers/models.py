"""Tables of the offers domain: deals, the cycle settings, cycles, personal lists, their
items and the redemptions at the till."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, Money, Quantity, UTCDateTime
from regulars.core.timeutil import utcnow


class Deal(Base):
    """A manufacturer's or the store's deal on a product, a brand or a category.

    ``kind`` ``percent`` takes ``value`` % off, ``amount`` takes ``value`` off each unit,
    ``price`` sells each unit at ``value``, ``bxgy`` gives ``get_qty`` free for every
    ``buy_qty`` bought. ``spent`` is what redemptions cost so far; it never passes
    ``budget`` (checked by one conditional UPDATE at the till). ``limit_per_member`` counts
    redemptions per member over the deal's life. Deals are retired (``active`` off), never
    deleted: list items and redemptions name them.
    """

    __tablename__ = "deal"
    __table_args__ = (
        CheckConstraint("manufacturer_share + store_share = 100000", name="shares_sum_100"),
        CheckConstraint("budget IS NULL OR spent <= budget", name="within_budget"),
        Index("ix_deal_active_dates", "active", "valid_from", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    manufacturer_id: Mapped[int | None] = mapped_column(ForeignKey("manufacturer.id"), index=True)
    target: Mapped[str] = mapped_column(String(10))
    target_value: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    buy_qty: Mapped[int | None] = mapped_column(Integer)
    get_qty: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    # Percent of each redemption's cost borne by the manufacturer and the store (sum 100).
    manufacturer_share: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    store_share: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("100"))
    budget: Mapped[Decimal | None] = mapped_column(Money)
    spent: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    limit_per_member: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(20), default="staff")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ListSettings(Base):
    """The list cycle's settings (one row, code ``default``).

    Eligible: average weekly spend over the last ``window_weeks`` of at least ``threshold``.
    ``control_share`` of the eligible get no list (the control group). A member's discount
    budget per cycle is ``base_budget`` times the factor of their value tier
    (``tier_factors``); predicted products without a deal get ``store_discount`` % off,
    funded by the store, within that budget.
    """

    __tablename__ = "list_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    window_weeks: Mapped[int] = mapped_column(Integer, default=8)
    threshold: Mapped[Decimal] = mapped_column(Money, default=Decimal("150"))
    cycle_days: Mapped[int] = mapped_column(Integer, default=14)
    list_length: Mapped[int] = mapped_column(Integer, default=10)
    max_per_category: Mapped[int] = mapped_column(Integer, default=3)
    control_share: Mapped[float] = mapped_column(Float, default=0.1)
    base_budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("20"))
    tier_factors: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    store_discount: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("5"))
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ListCycle(Base):
    """One run of the cycle: the lists valid from ``starts_on`` for ``days`` days.

    ``seed`` draws the control group (deterministic per cycle), ``model`` and
    ``model_info`` name the prediction run, ``settings`` is a copy of the settings used,
    ``outcome`` the counts (and, once the cycle is over, the measured spend).
    """

    __tablename__ = "list_cycle"

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, unique=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    seed: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(50))
    model_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonalList(Base):
    """One eligible member's place in one cycle: a list (``group`` ``list``) or a control
    group entry (``control``: no items, no code, recorded for the uplift measurement).

    ``code`` is what the list's barcode encodes; the till may send it instead of the card.
    ``spend_before`` / ``spend_during`` are the member's spend in the window before and
    during the cycle, filled when the cycle is measured.
    """

    __tablename__ = "personal_list"
    __table_args__ = (Index("ix_personal_list_member_cycle", "member_id", "cycle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("list_cycle.id"), index=True)
    # A list follows a member merge to the survivor: the survivor's card then redeems it.
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    group: Mapped[str] = mapped_column(String(10))
    personalised: Mapped[bool] = mapped_column(Boolean, default=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    weekly_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    value_tier: Mapped[str | None] = mapped_column(String(10))
    spend_before: Mapped[Decimal | None] = mapped_column(Money)
    spend_during: Mapped[Decimal | None] = mapped_column(Money)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ListItem(Base):
    """A line of a personal list: a product, the deal (or store discount) and the reason.

    ``reason_code`` names the reason (``rhythm``, ``popular`` …), ``reason_message`` is its
    catalogue message id and ``reason_params`` its values, so the reason is rendered in
    whichever language the member reads it. ``max_discount`` bounds
    what the till gives for this item (the list's budget was spent on it).
    """

    __tablename__ = "list_item"
    __table_args__ = (UniqueConstraint("list_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("personal_list.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    buy_qty: Mapped[int | None] = mapped_column(Integer)
    get_qty: Mapped[int | None] = mapped_column(Integer)
    max_discount: Mapped[Decimal] = mapped_column(Money)
    manufacturer_share: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    expected_days: Mapped[float | None] = mapped_column(Float)
    reason_code: Mapped[str] = mapped_column(String(20))
    reason_message: Mapped[str] = mapped_column(String(200))
    reason_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="open")


class Redemption(Base):
    """A list item honoured at the till: the receipt line, the discount and who pays it.

    ``receipt_id`` names the receipt without a foreign key (offers sits below sales). The
    unique ``item_id`` makes an item redeemable once, whatever the tills do.
    """

    __tablename__ = "list_redemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("list_item.id"), unique=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("personal_list.id"), index=True)
    # History stays with the member it was written for, like a ledger line.
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), info={"merge": False})
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id"), index=True)
    manufacturer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    receipt_id: Mapped[int] = mapped_column(Integer, index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    manufacturer_amount: Mapped[Decimal] = mapped_column(Money)
    store_amount: Mapped[Decimal] = mapped_column(Money)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    note: Mapped[str | None] = mapped_column(Text)
