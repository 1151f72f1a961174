"""Request and response models of the offers domain."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from regulars.core.i18n import _
from regulars.core.schemas import Instant, ReadSchema, Schema, refuse

Amount = Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), max_digits=12, decimal_places=2)]
Share = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3)]
DealKind = Literal["percent", "amount", "price", "bxgy"]
DealTarget = Literal["product", "brand", "category"]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_.-]+$")]
ListCode = Annotated[str, Field(min_length=4, max_length=20, pattern=r"^[0-9A-Za-z]+$")]


class DealBase(Schema):
    """What a deal offers, on what, when, and who pays for it.

    ``target_value`` is a product SKU, a brand or a category name. ``value`` is the
    percentage (``percent``), the amount off each unit (``amount``) or the price per unit
    (``price``); buy-X-get-Y uses ``buy_qty`` and ``get_qty``. The manufacturer's and the
    store's shares of the cost add up to 100.
    """

    title: Annotated[str, Field(min_length=1, max_length=200)]
    manufacturer_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    target: DealTarget
    target_value: Annotated[str, Field(min_length=1, max_length=100)]
    kind: DealKind
    value: Amount = Decimal("0")
    buy_qty: Annotated[int, Field(ge=1, le=100)] | None = None
    get_qty: Annotated[int, Field(ge=1, le=100)] | None = None
    valid_from: Instant
    valid_to: Instant
    manufacturer_share: Share = Decimal("0")
    store_share: Share = Decimal("100")
    budget: Amount | None = None
    limit_per_member: Annotated[int, Field(ge=1, le=1000)] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> DealBase:
        if self.valid_from.tzinfo is None or self.valid_to.tzinfo is None:
            refuse(_("must carry a time zone (e.g. +08:00 or Z)"), field="valid_from")
        if self.valid_to <= self.valid_from:
            refuse(_("must be after valid_from"), field="valid_to")
        if self.manufacturer_share + self.store_share != 100:
            refuse(
                _("manufacturer_share and store_share must add up to 100"),
                field="manufacturer_share",
            )
        return self


class DealCreate(DealBase):
    """A new deal with its unique code (switched on unless ``active`` is false)."""

    code: Code
    active: bool = True


class DealUpdate(DealBase):
    """A deal's new terms (the code stays).

    ``active`` left out (or null) keeps the deal on or off as it is: a save of its terms
    must not bring a retired deal back into the lists and the till.
    """

    active: bool | None = None


class DealRead(ReadSchema):
    """A deal as staff see it."""

    id: int
    code: str
    title: str
    manufacturer_id: int | None
    target: str
    target_value: str
    kind: str
    value: Decimal
    buy_qty: int | None
    get_qty: int | None
    valid_from: datetime
    valid_to: datetime
    manufacturer_share: Decimal
    store_share: Decimal
    budget: Decimal | None
    spent: Decimal
    limit_per_member: int | None
    active: bool
    source: str


class ListSettingsRead(ReadSchema):
    """The cycle's settings."""

    window_weeks: int
    threshold: Decimal
    cycle_days: int
    list_length: int
    max_per_category: int
    control_share: float
    base_budget: Decimal
    tier_factors: dict[str, float]
    store_discount: Decimal
    notify: bool


class ListSettingsUpdate(Schema):
    """Settings to change; fields left out keep their value."""

    window_weeks: Annotated[int, Field(ge=1, le=52)] | None = None
    threshold: Amount | None = None
    cycle_days: Annotated[int, Field(ge=1, le=90)] | None = None
    list_length: Annotated[int, Field(ge=1, le=50)] | None = None
    max_per_category: Annotated[int, Field(ge=1, le=50)] | None = None
    control_share: Annotated[float, Field(ge=0, le=0.5)] | None = None
    base_budget: Amount | None = None
    tier_factors: (
        dict[Annotated[str, Field(max_length=10)], Annotated[float, Field(ge=0, le=20)]] | None
    ) = None
    store_discount: Share | None = None
    notify: bool | None = None


class CycleRead(ReadSchema):
    """A cycle and its counts."""

    id: int
    starts_on: date
    valid_from: datetime
    valid_to: datetime
    seed: int
    model: str
    model_info: dict[str, Any]
    outcome: dict[str, Any]
    status: str


class ListItemRead(Schema):
    """A list line with its reason in the reader's language."""

    id: int
    position: int
    product_id: int
    product_name: str | None
    category: str | None
    deal_id: int | None
    kind: str
    value: Decimal
    buy_qty: int | None
    get_qty: int | None
    max_discount: Decimal
    reason: str
    reason_code: str
    reason_params: dict[str, Any]
    status: str


class ListRead(Schema):
    """A member's list for one cycle."""

    id: int
    cycle_id: int
    member_id: int
    group: str
    personalised: bool
    code: str | None
    valid_from: datetime
    valid_to: datetime
    budget: Decimal
    items: list[ListItemRead] = []


class ListDiscount(Schema):
    """A list discount the till gives on one receipt line (in the receipt's answer)."""

    line_no: int
    product_id: int
    list_item_id: int
    deal_id: int | None
    amount: Decimal
