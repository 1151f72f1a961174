"""Request and response models of the sales domain (what a till sends and gets back)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from stdnum import luhn

from regulars.catalog.schemas import Barcode
from regulars.core.i18n import _
from regulars.core.schemas import Id, Instant, ReadSchema, Schema, refuse
from regulars.loyalty.schemas import CouponApplied, CouponCode, CouponOffer, Reward
from regulars.members.schemas import CardNo, MemberSummary, Mobile
from regulars.offers.schemas import ListCode, ListDiscount

Money = Annotated[
    Decimal, Field(ge=Decimal("-10000000"), le=Decimal("10000000"), max_digits=12, decimal_places=2)
]
PositiveMoney = Annotated[
    Decimal, Field(ge=0, le=Decimal("10000000"), max_digits=12, decimal_places=2)
]
Qty = Annotated[Decimal, Field(gt=0, le=Decimal("100000"), max_digits=10, decimal_places=3)]
ReceiptNo = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_./-]+$")]
Sku = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_.-]+$")]
PaymentMethod = Literal[
    "cash", "bank_card", "wechat_pay", "alipay", "voucher", "points", "stored_value", "other"
]


def _no_card_number(value: str) -> str:
    """Refuse anything that looks like a payment card number: Regulars never stores one."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
        refuse(_("payment references must not contain a card number"))
    return value


class MemberRef(Schema):
    """How the till names the member: one of id, card number, mobile or member code."""

    member_id: Id | None = None
    card_no: CardNo | None = None
    mobile: Mobile | None = None
    member_code: Annotated[str, Field(min_length=1, max_length=20)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MemberRef:
        given = [v for v in (self.member_id, self.card_no, self.mobile, self.member_code) if v]
        if len(given) != 1:
            refuse(_("give exactly one of member_id, card_no, mobile or member_code"))
        return self


class LineIn(Schema):
    """One product line: the product by barcode or SKU, quantity, price, discount, amount."""

    barcode: Barcode | None = None
    sku: Sku | None = None
    quantity: Qty
    unit_price: PositiveMoney
    discount: PositiveMoney = Decimal("0")
    amount: Money

    @model_validator(mode="after")
    def _consistent(self) -> LineIn:
        if not self.barcode and not self.sku:
            refuse(_("a line needs a barcode or a sku"), field="barcode")
        expected = (self.quantity * self.unit_price - self.discount).quantize(Decimal("0.01"))
        if abs(expected - self.amount) > Decimal("0.01"):
            refuse(
                _("amount {a} is not quantity × unit_price − discount ({b})"),
                field="amount",
                a=self.amount,
                b=expected,
            )
        return self


class PaymentIn(Schema):
    """One payment of the receipt's summary; never a card number."""

    method: PaymentMethod
    amount: Money
    reference: Annotated[str, Field(max_length=64), AfterValidator(_no_card_number)] | None = None


class ReceiptIn(Schema):
    """A checkout as the till sends it. The store and terminal come from the till's key."""

    receipt_no: ReceiptNo
    occurred_at: Instant
    cashier: Annotated[str, Field(max_length=64)] | None = None
    member: MemberRef | None = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=500)]
    payments: Annotated[list[PaymentIn], Field(max_length=10)] = []
    total: Money | None = None
    # Points the member chooses to spend on this receipt (part of the balance is fine).
    redeem_points: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    # Codes of the member's coupons to honour (as scanned or typed). The till takes the
    # discount as a ``voucher`` payment, not as a negative line; the answer lists the
    # discount of each coupon, computed here from the coupon's own terms.
    coupons: Annotated[list[CouponCode], Field(min_length=1, max_length=10)] | None = None
    # The personal list's barcode, when scanned instead of (or with) the member card: it
    # names the member, and only that list's items are discounted. Like coupons, the till
    # takes the list discounts of the answer as a ``voucher`` payment.
    list_code: ListCode | None = None

    @model_validator(mode="after")
    def _totals(self) -> ReceiptIn:
        if self.occurred_at.tzinfo is None:
            refuse(_("must carry a time zone (e.g. +08:00 or Z)"), field="occurred_at")
        line_total = sum((line.amount for line in self.lines), Decimal("0"))
        if self.total is not None and self.total != line_total:
            refuse(
                _("total {total} differs from the sum of the lines ({lines})"),
                field="total",
                total=self.total,
                lines=line_total,
            )
        if self.payments:
            paid = sum((p.amount for p in self.payments), Decimal("0"))
            if paid != line_total:
                refuse(
                    _("payments {paid} differ from the receipt total ({total})"),
                    field="payments",
                    paid=paid,
                    total=line_total,
                )
        return self


class ReturnLineIn(Schema):
    """A returned quantity of one line of the original receipt."""

    line_no: Annotated[int, Field(ge=1, le=500)]
    quantity: Qty
    amount: PositiveMoney | None = None


class ReturnIn(Schema):
    """A return at a till, linked to the original receipt."""

    receipt_no: ReceiptNo
    occurred_at: Instant
    cashier: Annotated[str, Field(max_length=64)] | None = None
    original_store: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    original_terminal: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    original_receipt_no: ReceiptNo
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=500)]
    payments: Annotated[list[PaymentIn], Field(max_length=10)] = []
    reason: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _aware(self) -> ReturnIn:
        if self.occurred_at.tzinfo is None:
            refuse(_("must carry a time zone (e.g. +08:00 or Z)"), field="occurred_at")
        if len({line.line_no for line in self.lines}) != len(self.lines):
            refuse(_("each original line may appear once in a return"), field="lines")
        return self


class ReceiptAnswer(Schema):
    """What the till gets back; a replay gets exactly the first answer."""

    receipt_id: int
    kind: str
    store: str
    terminal: str
    receipt_no: str
    member_id: int | None
    total: Decimal
    line_count: int
    recorded_at: datetime
    points_earned: int = 0
    points_redeemed: int = 0
    balance: int | None = None
    pending: int | None = None
    debt: int | None = None
    tier: str | None = None
    rewards: list[Reward] = []
    coupons: list[CouponApplied] = []
    list_discounts: list[ListDiscount] = []
    list_discount_total: Decimal = Decimal("0")


class LineRead(ReadSchema):
    """A receipt line as staff see it."""

    line_no: int
    product_id: int
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    original_line_id: int | None


class _ReceiptFacts(ReadSchema):
    """What a receipt says about itself (every read of a receipt starts here)."""

    id: int
    store_id: int
    terminal_id: int
    receipt_no: str
    kind: str
    occurred_at: datetime
    cashier: str | None
    member_id: int | None
    original_receipt_id: int | None
    total: Decimal
    discount_total: Decimal
    line_count: int
    payments: list[dict[str, object]]
    source: str


class ReceiptRead(_ReceiptFacts):
    """A receipt with its lines."""

    lines: list[LineRead] = []


class ReceiptFound(ReadSchema):
    """A receipt found by number, store or terminal (a row of the search results)."""

    id: int
    store_id: int
    store: str
    terminal_id: int
    terminal: str
    receipt_no: str
    kind: str
    occurred_at: datetime
    member_id: int | None
    total: Decimal
    line_count: int
    source: str


class ReceiptRef(ReadSchema):
    """Another receipt a receipt points to: its return, or the sale it returns."""

    id: int
    receipt_no: str
    occurred_at: datetime
    total: Decimal


class LineDetail(LineRead):
    """A line with its product, and for a sale line the quantity returned since."""

    name_zh: str | None
    name_en: str | None
    barcode: str | None
    sku: str
    # Sum of the return lines naming this line, as a positive number (0 for a return line).
    returned: Decimal


class ReceiptDetail(_ReceiptFacts):
    """A receipt as the service desk reads it: every field of :class:`ReceiptRead`, the
    store and terminal codes, its lines with returned quantities, its returns and, for a
    return, the original receipt."""

    store: str
    terminal: str
    recorded_at: datetime
    lines: list[LineDetail] = []
    returns: list[ReceiptRef] = []
    original: ReceiptRef | None = None


class IdentifyAnswer(MemberSummary):
    """The identified member and the coupons the till may offer them now."""

    coupons: list[CouponOffer] = []
