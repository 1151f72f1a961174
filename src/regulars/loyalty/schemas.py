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
    birthday_coupon_value: Decimal
    birthday_coupon_min_spend: Decimal
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
    birthday_coupon_value: Amount | None = None
    birthday_coupon_min_spend: Amount | None = None

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


class GrantRowRead(Schema):
    """A row of a grant file that was not used: its line and why, in the caller's language."""

    line: int
    reason: str


class GrantsResult(Schema):
    """What a grant file did: how many members received points, and the rows not used."""

    granted: int
    bad: list[GrantRowRead]


# --- coupons and the rewards catalogue ------------------------------------------------------

CouponKind = Literal["amount", "percent", "gift"]
CouponCode = Annotated[str, Field(min_length=4, max_length=32, pattern=r"^[0-9A-Za-z -]+$")]
Title = Annotated[str, Field(min_length=1, max_length=100)]
ValidDays = Annotated[int, Field(ge=1, le=3660)]


class RewardCreate(Schema):
    """A reward members buy with points: a coupon (amount or percent off) or a gift.

    ``amount``: ``value`` off a spend of at least ``min_spend``. ``percent``: ``value`` %
    off the goods, at most ``max_discount``. ``gift``: handed over at the till or the service
    desk (``value`` 0). The coupon is valid ``valid_days`` from the exchange; ``stock``
    (left out: unlimited) counts how many can still be exchanged.
    """

    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Title
    kind: CouponKind
    points: Annotated[int, Field(ge=1, le=100_000_000)]
    value: Amount = Decimal("0")
    max_discount: Amount | None = None
    min_spend: Amount = Decimal("0")
    valid_days: ValidDays = 30
    stock: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    active: bool = True


class RewardUpdate(Schema):
    """Fields of a reward to change; ``active`` false retires it from the catalogue."""

    name: Title | None = None
    kind: CouponKind | None = None
    points: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    value: Amount | None = None
    max_discount: Amount | None = None
    min_spend: Amount | None = None
    valid_days: ValidDays | None = None
    stock: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    active: bool | None = None


class RewardRead(ReadSchema):
    """A reward of the catalogue."""

    id: int
    code: str
    name: str
    kind: str
    points: int
    value: Decimal
    max_discount: Decimal | None
    min_spend: Decimal
    valid_days: int
    stock: int | None
    active: bool


class CouponIssueIn(Schema):
    """A coupon staff give a member as compensation; the reason is mandatory and audited."""

    kind: CouponKind
    value: Amount = Decimal("0")
    max_discount: Amount | None = None
    min_spend: Amount = Decimal("0")
    valid_days: ValidDays = 30
    title: Title | None = None
    reason: Reason


class CouponExchangeIn(Schema):
    """Points for a reward of the catalogue, by id or code."""

    reward_id: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None
    reward_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class CouponVoidIn(Schema):
    """Void an unused coupon; the reason is mandatory and audited."""

    reason: Reason


class CouponRead(ReadSchema):
    """A member's coupon: its code, terms, validity, where it came from and its state."""

    id: int
    member_id: int
    code: str
    kind: str
    title: str
    value: Decimal
    max_discount: Decimal | None
    min_spend: Decimal
    valid_from: datetime
    valid_to: datetime
    source: str
    reward_id: int | None
    points_line_id: int | None
    reason: str | None
    actor: str | None
    status: str
    issued_at: datetime
    redeemed_at: datetime | None
    receipt_id: int | None
    discount: Decimal | None


class CouponOffer(Schema):
    """A coupon the till may offer the identified member: code and terms."""

    code: str
    kind: str
    title: str
    value: Decimal
    max_discount: Decimal | None
    min_spend: Decimal
    valid_to: datetime


class CouponApplied(Schema):
    """A coupon honoured on a receipt, with the discount it gave."""

    code: str
    kind: str
    title: str
    discount: Decimal
