"""Candidates for a list: the best offer a product can get and why it is proposed.

Predicted products (personalised path), household items (consented signals) and popular
products (the non-personalised path of PIPL Art. 24) become :class:`Plan` values that
:func:`regulars.offers.rules.choose` picks from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from regulars.catalog.models import Product
from regulars.offers import rules
from regulars.offers.models import Deal


@dataclass(frozen=True)
class Prediction:
    """A predicted purchase with its reason (``reason_message`` a catalogue message id)."""

    member_id: int
    product_id: int
    score: float
    expected_days: float | None
    reason_code: str
    reason_message: str
    reason_params: dict[str, Any]


@dataclass(frozen=True)
class Offer:
    """The best terms a product can get: a deal, or the store's discount (deal None)."""

    deal: Deal | None
    terms: rules.Terms
    discount: Decimal
    manufacturer_share: Decimal


class Matcher:
    """The best offer for a product among the cycle's deals."""

    def __init__(self, deals: list[Deal], store_discount: Decimal) -> None:
        self.by: dict[tuple[str, str], list[Deal]] = defaultdict(list)
        for deal in deals:
            self.by[(deal.target, deal.target_value)].append(deal)
        self.store_discount = store_discount

    def best(self, product: Product, *, store_fallback: bool) -> Offer | None:
        """The largest planned discount a deal gives ``product`` (or the store's)."""
        price = product.unit_price
        if price is None or price <= 0:
            return None
        found: list[Deal] = []
        for key in (
            ("product", product.sku),
            ("brand", product.brand or ""),
            ("category", product.category or ""),
        ):
            found.extend(self.by.get(key, ()))
        best: Offer | None = None
        for deal in found:
            terms = rules.Terms(deal.kind, deal.value, deal.buy_qty, deal.get_qty)
            off = rules.planned_discount(terms, unit_price=price)
            if deal.budget is not None:
                off = min(off, deal.budget - deal.spent)
            if off > 0 and (best is None or off > best.discount):
                best = Offer(deal, terms, off, deal.manufacturer_share)
        if best is None and store_fallback and self.store_discount > 0:
            terms = rules.Terms("percent", self.store_discount)
            off = rules.planned_discount(terms, unit_price=price)
            if off > 0:
                best = Offer(None, terms, off, Decimal("0"))
        return best


@dataclass
class Plan:
    """A candidate with the offer it would carry."""

    candidate: rules.Candidate
    offer: Offer
    reason_code: str
    reason_message: str


def candidate(
    product: Product,
    offer: Offer,
    score: float,
    code: str,
    message: str,
    params: dict[str, Any],
    expected_days: float | None = None,
) -> Plan:
    """A product with its offer, score and reason, ready for the choice."""
    return Plan(
        rules.Candidate(
            product_id=product.id,
            category=product.category,
            score=score,
            discount=offer.discount,
            reason_code=code,
            reason_params=params,
            deal_id=offer.deal.id if offer.deal else None,
            expected_days=expected_days,
        ),
        offer,
        code,
        message,
    )


def popular_plans(
    popular: Sequence[int], products: dict[int, Product], matcher: Matcher
) -> list[Plan]:
    """The non-personalised candidates: popular products that carry a deal, by rank."""
    plans: list[Plan] = []
    for rank, product_id in enumerate(popular):
        product = products.get(product_id)
        offer = matcher.best(product, store_fallback=False) if product else None
        if product is None or offer is None or offer.deal is None:
            continue
        plans.append(
            candidate(product, offer, 1.0 / (1 + rank), "popular", rules.REASON_POPULAR, {})
        )
    # Deals on products nobody has bought yet still belong on a popularity list, last.
    ranked = {p.candidate.product_id for p in plans}
    for product in sorted(products.values(), key=lambda p: p.id):
        if product.id in ranked:
            continue
        offer = matcher.best(product, store_fallback=False)
        if offer is not None and offer.deal is not None:
            plans.append(candidate(product, offer, 0.0, "popular", rules.REASON_POPULAR, {}))
    return plans


def personal_plans(
    predictions: Sequence[Prediction],
    signals: list[tuple[str, float]],
    products: dict[int, Product],
    matcher: Matcher,
) -> list[Plan]:
    """A consenting member's candidates: predicted products, then household items."""
    plans: list[Plan] = []
    for p in predictions:
        product = products.get(p.product_id)
        offer = matcher.best(product, store_fallback=True) if product else None
        if product is None or offer is None:
            continue
        plans.append(
            candidate(
                product,
                offer,
                p.score,
                p.reason_code,
                p.reason_message,
                dict(p.reason_params),
                p.expected_days,
            )
        )
    for signal, strength in signals:
        for product in products.values():
            if signal not in (product.tags or []):
                continue
            offer = matcher.best(product, store_fallback=False)
            if offer is None or offer.deal is None:
                continue
            # Below a confident prediction, above nothing: half the signal's strength.
            plans.append(
                candidate(
                    product,
                    offer,
                    0.5 * strength,
                    "household",
                    rules.REASON_HOUSEHOLD,
                    {"signal": signal},
                )
            )
    return plans
