"""Pure loyalty policy: earning, tiers, expiry dates, first-in first-out allocation, coupons.

Nothing here touches the database; the service feeds these functions plain values.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _

CENT = Decimal("0.01")
ONE = Decimal("1")
TIER_WINDOW = timedelta(days=365)
EXPIRY_POLICIES = ("months", "year_end")
DEBT_POLICIES = ("claw_back", "debt")
TARGETS = ("product", "category", "brand", "tag")
POSITIVE_KINDS = ("earn", "adjust", "compensate", "transfer")


@dataclass(frozen=True)
class ItemFacts:
    """What earning needs to know of one receipt line and its product."""

    line_no: int
    product_id: int
    amount: Decimal
    category: str | None = None
    brand: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """An earning multiplier for every line whose product matches ``target`` = ``value``."""

    target: str
    value: str
    multiplier: Decimal


@dataclass(frozen=True)
class TierRule:
    """A tier: reached at ``threshold`` of rolling 12-month spend, earning × ``multiplier``."""

    code: str
    name: str
    rank: int
    threshold: Decimal
    multiplier: Decimal


@dataclass(frozen=True)
class Earning:
    """Points earned on a receipt: per line, the bonuses, and the spend that qualifies."""

    lines: dict[int, int] = field(default_factory=dict)
    spend: Decimal = Decimal("0")

    @property
    def line_points(self) -> int:
        """Points earned on the lines (bonuses excluded)."""
        return sum(self.lines.values())


def floor_points(value: Decimal) -> int:
    """Whole points, rounded down (a member never gets a fraction of a point)."""
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def line_multiplier(item: ItemFacts, rules: Sequence[Rule]) -> Decimal:
    """The largest multiplier of the rules matching the item (1 when none match)."""
    best = ONE
    for rule in rules:
        if rule.target == "product":
            hit = rule.value == str(item.product_id)
        elif rule.target == "category":
            hit = item.category is not None and rule.value == item.category
        elif rule.target == "brand":
            hit = item.brand is not None and rule.value == item.brand
        else:
            hit = rule.value in item.tags
        if hit and rule.multiplier > best:
            best = rule.multiplier
    return best


def paid_shares(items: Sequence[ItemFacts], redeemed_value: Decimal) -> dict[int, Decimal]:
    """What the member really paid for each product line.

    Only lines with a positive amount are products that earn; reward and discount lines
    (amount ≤ 0) and the value paid with points reduce them pro rata, so neither a reward
    line (odoo #150833) nor a points discount earns anything.
    """
    positive = sum((i.amount for i in items if i.amount > 0), Decimal("0"))
    if positive <= 0:
        return {}
    negative = sum((i.amount for i in items if i.amount < 0), Decimal("0"))
    paid = max(Decimal("0"), positive + negative - redeemed_value)
    ratio = paid / positive
    return {i.line_no: i.amount * ratio for i in items if i.amount > 0}


def earn_compute(
    items: Sequence[ItemFacts],
    *,
    points_per_unit: Decimal,
    min_spend: Decimal,
    rules: Sequence[Rule] = (),
    tier_multiplier: Decimal = ONE,
    day_multiplier: Decimal = ONE,
    redeemed_value: Decimal = Decimal("0"),
) -> Earning:
    """Points per line: paid amount × rate × product, tier and member-day multipliers, floored."""
    shares = paid_shares(items, redeemed_value)
    spend = sum(shares.values(), Decimal("0")).quantize(CENT, ROUND_HALF_UP)
    if spend < min_spend or spend <= 0:
        return Earning(lines={line_no: 0 for line_no in shares}, spend=spend)
    factor = points_per_unit * tier_multiplier * day_multiplier
    raw = {
        item.line_no: shares[item.line_no] * factor * line_multiplier(item, rules)
        for item in items
        if item.line_no in shares
    }
    return Earning(lines=spread(raw), spend=spend)


def spread(raw: Mapping[int, Decimal]) -> dict[int, int]:
    """Whole points per line adding up to the floor of the receipt's total.

    Flooring each line would lose up to a point per line; instead the receipt's total is
    floored once and the points left after flooring each line go to the lines with the
    largest fractions (then the lowest line number), so the attribution stays exact.
    """
    points = {line: floor_points(value) for line, value in raw.items()}
    left = floor_points(sum(raw.values(), Decimal("0"))) - sum(points.values())
    by_fraction = sorted(raw, key=lambda line: (-(raw[line] - points[line]), line))
    for line in by_fraction[:left]:
        points[line] += 1
    return points


def day_multiplier(member_days: Mapping[str, str], occurred_at: datetime) -> Decimal:
    """The member-day multiplier of the receipt's local weekday (0 = Monday), else 1."""
    value = member_days.get(str(occurred_at.weekday()))
    return Decimal(value) if value else ONE


def tier_for(spend: Decimal, tiers: Sequence[TierRule]) -> TierRule:
    """The highest tier whose threshold ``spend`` reaches (tiers must include a 0 threshold)."""
    reached = [t for t in tiers if spend >= t.threshold]
    if not reached:
        return min(tiers, key=lambda t: t.rank)
    return max(reached, key=lambda t: t.rank)


def next_tier(current: str, tiers: Sequence[TierRule]) -> TierRule | None:
    """The tier just above ``current``, if there is one."""
    rank = next((t.rank for t in tiers if t.code == current), -1)
    above = [t for t in tiers if t.rank > rank]
    return min(above, key=lambda t: t.rank) if above else None


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole months, the day clamped to the month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expires_at_for(earned_at: datetime, *, policy: str, months: int) -> datetime:
    """When points earned at ``earned_at`` expire.

    ``months``: that many months after earning. ``year_end``: at the end of the year in
    which the points are ``months`` old (so 12 → the end of the following year; 0 → the
    end of the year earned), in the receipt's own time zone.
    """
    if policy == "year_end":
        year = add_months(earned_at, months).year
        return earned_at.replace(
            year=year + 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    return add_months(earned_at, months)


def available_at_for(earned_at: datetime, *, pending_days: int) -> datetime:
    """When points from a receipt become spendable: after the return window."""
    return earned_at + timedelta(days=pending_days)


def redemption_value(points: int, *, points_per_unit: int) -> Decimal:
    """Money a number of points pays for, rounded down to the cent."""
    return (Decimal(points) / Decimal(points_per_unit)).quantize(CENT, ROUND_DOWN)


@dataclass(frozen=True)
class Lot:
    """A lot's spendable state for allocation."""

    id: int
    remaining: int
    expires_at: datetime | None


def fifo_allocate(lots: Iterable[Lot], points: int) -> tuple[dict[int, int], int]:
    """Take ``points`` from the soonest-expiring lots first; return ({lot id: n}, shortfall).

    Ties go to the older lot (lower id); lots that never expire come last. A lot never
    gives more than its ``remaining``, so no point is ever spent twice.
    """
    taken: dict[int, int] = {}
    left = points
    ordered = sorted(
        lots,
        key=lambda lot: (
            lot.expires_at.timestamp() if lot.expires_at else float("inf"),
            lot.id,
        ),
    )
    for lot in ordered:
        if left <= 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            taken[lot.id] = take
            left -= take
    return taken, left


def reversal_points(
    earned: Mapping[str, int], fractions: Mapping[str, Decimal], reversed_before: Mapping[str, int]
) -> dict[str, int]:
    """Points to reverse per line so the total reversed is the returned share of each line.

    ``fractions`` is the share of each line returned so far, this return included; the
    target for a line is its points × that share (half up), minus what earlier returns
    already reversed — so several partial returns reverse exactly the line's points.
    """
    out: dict[str, int] = {}
    for line, fraction in fractions.items():
        points = earned.get(line, 0)
        target = int((points * min(fraction, ONE)).to_integral_value(rounding=ROUND_HALF_UP))
        due = target - reversed_before.get(line, 0)
        if due > 0:
            out[line] = due
    return out


# --- coupons ------------------------------------------------------------------------------

COUPON_KINDS = ("amount", "percent", "gift")
COUPON_SOURCES = ("birthday", "points", "compensation")
COUPON_STATES = ("issued", "redeemed", "expired", "void")
# Crockford's base32: digits and capitals without I, L, O and U, so a code read aloud or
# typed from paper cannot be mistaken; 16 of them carry 80 random bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
HUNDRED = Decimal("100")
_LOOKALIKES = str.maketrans("OIL", "011")


def coupon_code_new() -> str:
    """A new random coupon code (80 bits from the OS's secure generator)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _n in range(CODE_LENGTH))


def coupon_code_normalise(text: str) -> str:
    """A code as typed or scanned, in its stored form: capitals, no spaces or dashes.

    Letters Crockford's alphabet leaves out are read as the digits they look like
    (O → 0, I and L → 1), so a code copied by hand still matches.
    """
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\t")
    return cleaned.translate(_LOOKALIKES)


def coupon_code_display(code: str) -> str:
    """A code in groups of four for printing and reading out (``K7QM-3XH2-…``)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def coupon_terms_check(kind: str, value: Decimal, max_discount: Decimal | None) -> None:
    """Refuse terms that make no coupon: nothing off, more than 100 %, a valued gift."""
    if kind not in COUPON_KINDS:
        raise InvalidInput(_("unknown coupon kind {kind}"), field="kind", kind=kind)
    if kind == "amount" and value <= 0:
        raise InvalidInput(_("an amount coupon needs a value above 0"), field="value")
    if kind == "percent" and not (0 < value <= HUNDRED):
        raise InvalidInput(_("a percent coupon takes more than 0 and at most 100 %"), field="value")
    if kind == "gift" and value != 0:
        raise InvalidInput(_("a gift coupon has no money value"), field="value")
    if max_discount is not None and kind != "percent":
        raise InvalidInput(_("only a percent coupon has a largest discount"), field="max_discount")


def coupon_discount(
    kind: str,
    value: Decimal,
    max_discount: Decimal | None,
    *,
    goods: Decimal,
    payable: Decimal,
) -> Decimal:
    """The discount a coupon gives on a receipt, never more than is left to pay.

    ``goods`` is what the receipt's products come to (the lines with a positive amount);
    ``payable`` what is left to pay after the coupons applied before this one. A percent
    coupon takes its share of the goods, rounded half up to the cent and capped; a gift
    coupon gives no money off (the gift is handed over).
    """
    if kind == "amount":
        discount = value
    elif kind == "percent":
        discount = (goods * value / HUNDRED).quantize(CENT, ROUND_HALF_UP)
        if max_discount is not None:
            discount = min(discount, max_discount)
    else:
        discount = Decimal("0")
    return max(Decimal("0"), min(discount, payable)).quantize(CENT)


def plain(value: Decimal) -> Decimal:
    """A number without trailing zeros or an exponent: 10.00 → 10, 12.50 → 12.5."""
    return value.quantize(ONE) if value == value.to_integral_value() else value.normalize()


def coupon_terms(
    kind: str, value: Decimal, max_discount: Decimal | None, min_spend: Decimal, title: str
) -> list[tuple[str, dict[str, Any]]]:
    """The coupon's terms as catalogue messages with their parameters, to translate and join."""
    terms: list[tuple[str, dict[str, Any]]] = []
    if kind == "amount":
        terms.append((_("¥{value} off"), {"value": value}))
    elif kind == "percent":
        terms.append((_("{percent}% off"), {"percent": plain(value)}))
    else:
        terms.append((_("gift: {title}"), {"title": title}))
    if min_spend > 0:
        terms.append((_("on a spend of at least ¥{min_spend}"), {"min_spend": min_spend}))
    if max_discount is not None:
        terms.append((_("at most ¥{cap} off"), {"cap": max_discount}))
    return terms
