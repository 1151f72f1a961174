"""Pure policy of the offers domain: what a deal takes off a line, who is eligible, who is
held out as control, how big a member's budget is, and which candidates make a list."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _

CENT = Decimal("0.01")
KINDS = ("percent", "amount", "price", "bxgy")
TARGETS = ("product", "brand", "category")
# Crockford base32 without I, L, O, U: a code read aloud or typed at the till is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A list is planned for this many units of each product (a shopping trip's usual quantity);
# the till never gives more than the planned discount for an item.
PLANNED_UNITS = 2
DEFAULT_TIER_FACTORS = {"platinum": 3.0, "gold": 2.0, "iron": 1.0, "lead": 0.5}


@dataclass(frozen=True)
class Terms:
    """A discount's terms: kind, value and, for buy-X-get-Y, the quantities."""

    kind: str
    value: Decimal
    buy_qty: int | None = None
    get_qty: int | None = None


def terms_check(terms: Terms) -> Terms:
    """Refuse terms that cannot be honoured (negative values, percent over 100, …)."""
    if terms.kind not in KINDS:
        raise InvalidInput(_("{value} is not a deal kind"), field="kind", value=terms.kind)
    if terms.kind == "bxgy":
        if not terms.buy_qty or not terms.get_qty or terms.buy_qty < 1 or terms.get_qty < 1:
            raise InvalidInput(
                _("buy-X-get-Y needs both quantities of at least 1"), field="buy_qty"
            )
        return terms
    if terms.value <= 0:
        raise InvalidInput(_("the deal's value must be positive"), field="value")
    if terms.kind == "percent" and terms.value > 100:
        raise InvalidInput(_("a percentage cannot exceed 100"), field="value")
    return terms


def line_discount(terms: Terms, *, quantity: Decimal, unit_price: Decimal) -> Decimal:
    """What the terms take off a line of ``quantity`` units at ``unit_price``.

    Never more than the line is worth and never negative: a price point above the shelf
    price gives nothing. Buy-X-get-Y counts whole units only.
    """
    gross = quantity * unit_price
    if terms.kind == "percent":
        off = gross * terms.value / 100
    elif terms.kind == "amount":
        off = terms.value * quantity
    elif terms.kind == "price":
        off = (unit_price - terms.value) * quantity
    else:
        bundle = (terms.buy_qty or 1) + (terms.get_qty or 1)
        free = (quantity // bundle) * (terms.get_qty or 1)
        off = free * unit_price
    off = max(Decimal("0"), min(off, gross))
    return off.quantize(CENT, ROUND_DOWN)


def planned_discount(terms: Terms, *, unit_price: Decimal) -> Decimal:
    """The discount an item is planned for: the terms on the usual quantity.

    Buy-X-get-Y is planned on one full bundle, so it is never planned at zero.
    """
    units = Decimal(PLANNED_UNITS)
    if terms.kind == "bxgy":
        units = Decimal((terms.buy_qty or 1) + (terms.get_qty or 1))
    return line_discount(terms, quantity=units, unit_price=unit_price)


def split(amount: Decimal, manufacturer_share: Decimal) -> tuple[Decimal, Decimal]:
    """(manufacturer, store) parts of a discount; the store takes the rounding cent."""
    maker = (amount * manufacturer_share / 100).quantize(CENT, ROUND_HALF_UP)
    return maker, amount - maker


def weekly_spend(total: Decimal, window_weeks: int) -> Decimal:
    """Average weekly spend of ``total`` spent over ``window_weeks`` weeks."""
    return (total / max(window_weeks, 1)).quantize(CENT, ROUND_HALF_UP)


def is_eligible(weekly: Decimal, threshold: Decimal) -> bool:
    """A member qualifies when their average weekly spend reaches the threshold."""
    return weekly >= threshold


def in_control(seed: int, member_id: int, share: float) -> bool:
    """Whether a member is held out as control in the cycle drawn with ``seed``.

    A hash of (seed, member) is uniform and independent of everything about the member,
    so the draw is random yet the same every time the cycle is (re)generated.
    """
    digest = hashlib.sha256(f"{seed}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def budget_for(base: Decimal, tier: str | None, factors: dict[str, float]) -> Decimal:
    """A member's discount budget: the base times their value tier's factor (1 unknown)."""
    factor = (factors or DEFAULT_TIER_FACTORS).get(tier or "", 1.0)
    return (base * Decimal(str(factor))).quantize(CENT, ROUND_HALF_UP)


def list_code() -> str:
    """A new list code: ``L`` and 11 random base32 characters (55 bits), Code128-friendly."""
    return "L" + "".join(secrets.choice(_ALPHABET) for _ in range(11))


@dataclass(frozen=True)
class Candidate:
    """A product that may go on a list, with its planned discount and its reason."""

    product_id: int
    category: str | None
    score: float
    discount: Decimal
    reason_code: str
    reason_params: dict[str, object]
    deal_id: int | None = None
    expected_days: float | None = None


def choose(
    candidates: Iterable[Candidate],
    *,
    length: int,
    per_category: int,
    budget: Decimal,
) -> list[Candidate]:
    """Pick the list: best score first, each product once, at most ``per_category`` per
    category, until ``length`` items or the budget (sum of planned discounts) is spent.

    A candidate that would overrun the budget is skipped, not the end of the list: a
    cheaper one further down may still fit.
    """
    chosen: list[Candidate] = []
    seen: set[int] = set()
    per: dict[str | None, int] = {}
    left = budget
    for cand in sorted(candidates, key=lambda c: (-c.score, c.product_id)):
        if len(chosen) >= length:
            break
        if cand.product_id in seen or per.get(cand.category, 0) >= per_category:
            continue
        if cand.discount <= 0 or cand.discount > left:
            continue
        chosen.append(cand)
        seen.add(cand.product_id)
        per[cand.category] = per.get(cand.category, 0) + 1
        left -= cand.discount
    return chosen


# The source documents' "$25 a week", in yuan, and a modest starting budget per list.
DEFAULT_THRESHOLD = Decimal("150")
DEFAULT_BASE_BUDGET = Decimal("20")
DEFAULT_STORE_DISCOUNT = Decimal("5")

#: Reasons the offers domain gives itself (predictions bring their own).
REASON_POPULAR = _("a favourite of our shoppers, on offer this fortnight")
REASON_HOUSEHOLD = _("chosen for your household ({signal})")
