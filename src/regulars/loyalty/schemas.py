"""Request and response models of the loyalty domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator

from regulars.core.schemas import ReadSchema, Schema

Multiplier = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), max_digits=12, decimal_places=2)]
Weekday = Literal["0", "1", "2", "3", "4", "5", "6"]
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Points = Annotated[int, Field(ge=-10_000_000, le=10_000_000)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class ProgrammeRead(ReadSchema):
    """The programme's settings."""

    name: str
    active: bool
    points_per_unit: Decimal
    min_spend: Decimal
    member_days: dict[str, str]
    first_purchase_bonus: int
    birthday_bonus: int
    redeem_points_per_unit: int
    min_redemption: int
    expiry_policy: str
    expiry_months: int
    pending_days: int
    debt_policy: str
    updated_at: datetime


class ProgrammeUpdate(Schema):
    """Settings to change; fields left out keep their value.

    ``member_days`` maps a weekday (0 = Monday, or ``mon`` … ``sun``) to its earning
    multiplier, e.g. ``{"2": "2"}`` or ``{"wed": "2"}`` for double points every Wednesday;
    it is stored with the numbers.
    """

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    active: bool | None = None
    points_per_unit: Multiplier | None = None
    min_spend: Amount | None = None
    member_days: dict[Weekday, Multiplier] | None = None
    first_purchase_bonus: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    birthday_bonus: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    redeem_points_per_unit: Annotated[int, Field(ge=1, le=100_000)] | None = None
    min_redemption: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    expiry_policy: Literal["months", "year_end"] | None = None
    expiry_months: Annotated[int, Field(ge=0, le=120)] | None = None
    pending_days: Annotated[int, Field(ge=0, le=365)] | None = None
    debt_policy: Literal["claw_back", "debt"] | None = None

    @field_validator("member_days", mode="before")
    @classmethod
    def _day_numbers(cls, value: object) -> object:
        """Accept weekday names (``wed``) as well as numbers (``2``)."""
        if isinstance(value, dict):
            return {
                str(WEEKDAY_NAMES.index(k.lower()))
                if isinstance(k, str) and k.lower() in WEEKDAY_NAMES
                else k: v
                for k, v in value.items()
            }
        return value


class TierIn(Schema):
    """A tier: reached at a rolling 12-month spend, with its earning multiplier."""

    code: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[a-z0-9_]+$")]
    name: Annotated[str, Field(min_length=1, max_length=50)]
    threshold: Amount
    multiplier: Multiplier


class TierRead(ReadSchema):
    """A tier as stored."""

    code: str
    name: str
    rank: int
    threshold: Decimal
    multiplier: Decimal


class MultiplierIn(Schema):
    """Earn × ``multiplier`` on lines whose product matches ``target`` = ``value``."""

    target: Literal["product", "category", "brand", "tag"]
    value: Annotated[str, Field(min_length=1, max_length=100)]
    multiplier: Multiplier


class MultiplierRead(ReadSchema):
    """A multiplier rule as stored."""

    id: int
    target: str
    value: str
    multiplier: Decimal


class Reward(Schema):
    """Something the member got (or lost) with a receipt, shown by the till."""

    code: str
    points: int = 0
    amount: Decimal | None = None
    tier: str | None = None


class PointsSummary(Schema):
    """A member's points: spendable, pending, expiring soon, tier and progress to the next."""

    member_id: int
    balance: int
    available: int
    pending: int
    debt: int
    expiring_soon: int
    expiring_by: datetime
    lifetime_earned: int
    tier: str
    tier_name: str
    tier_since: datetime | None
    qualifying_spend: Decimal
    next_tier: str | None
    next_tier_name: str | None
    spend_to_next_tier: Decimal | None


class PointsLineRead(ReadSchema):
    """One ledger line with its reason."""

    id: int
    kind: str
    points: int
    debt: int
    remaining: int
    spend: Decimal
    source_type: str
    source_id: int | None
    reason: str | None
    actor: str | None
    linked_line_id: int | None
    created_at: datetime
    available_at: datetime | None
    expires_at: datetime | None


class AdjustIn(Schema):
    """A manual change of a member's points; the reason is mandatory and kept on the line."""

    points: Points
    kind: Literal["adjust", "compensate"] = "adjust"
    reason: Reason
