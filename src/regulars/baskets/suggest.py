"""Suggestions at the till: an in-memory index of the product-level rules in force.

A suggestion is the consequent of a rule whose whole antecedent is in the basket and whose
consequent is not, ranked by :func:`regulars.baskets.rules.suggestion_score` (the best rule
counts when several suggest the same product). Inactive products are never suggested.

Each rule is filed under one item of its antecedent: the one that heads the fewest rules'
antecedents, so a basket checks each rule at most once and common items (milk, bread) do
not drag thousands of rules into every lookup. A 30-line basket then touches only the
rules filed under its 30 products.

The index is built once per run and cached per process, keyed by the run's id and its
random ``revision``; :func:`index_for` asks the database which run is in force (one indexed
read of two columns), so a newer run replaces the index at the next call. The till's route
does not call it at every request: :mod:`regulars.baskets.till` remembers the answer for a
few seconds.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.baskets.models import BasketRule
from regulars.baskets.queries import product_key, run_token
from regulars.baskets.rules import SUGGESTIONS, suggestion_score
from regulars.catalog.models import Product

__all__ = ["Suggestion", "SuggestionIndex", "index_build", "index_for", "index_reset"]

CACHED_RUNS = 4
_CHUNK = 5000


@dataclass(frozen=True)
class Suggestion:
    """A product to offer, the rule behind it and its score."""

    product_id: int
    barcode: str | None
    name_zh: str | None
    name_en: str | None
    score: float
    confidence: float
    lift: float
    because: tuple[int, ...]


@dataclass(frozen=True)
class _Entry:
    body: frozenset[int]
    body_ids: tuple[int, ...]
    head: int
    score: float
    confidence: float
    lift: float


@dataclass(frozen=True)
class _Product:
    barcode: str | None
    name_zh: str | None
    name_en: str | None
    active: bool


class SuggestionIndex:
    """The product-level rules of one run, filed for lookups by basket."""

    def __init__(
        self,
        run_id: int,
        rules: Iterable[tuple[Sequence[int], int, float, float]],
        products: dict[int, _Product],
    ) -> None:
        """File ``(antecedent ids, consequent id, confidence, lift)`` rules.

        ``products`` names every product of the rules; a rule whose consequent is unknown or
        no longer active is dropped, since it could only suggest what the shop cannot sell.
        """
        self.run_id = run_id
        self._products = products
        self._barcodes = {p.barcode: pid for pid, p in products.items() if p.barcode}
        kept = [rule for rule in rules if rule[1] in products and products[rule[1]].active]
        weight = Counter(item for body, _head, _c, _l in kept for item in body)
        filed: dict[int, list[_Entry]] = {}
        for body, head, confidence, lift in kept:
            key = min(body, key=lambda item: (weight[item], item))
            entry = _Entry(
                body=frozenset(body),
                body_ids=tuple(sorted(body)),
                head=head,
                score=suggestion_score(confidence, lift),
                confidence=confidence,
                lift=lift,
            )
            filed.setdefault(key, []).append(entry)
        self._filed = filed
        self.rules = len(kept)

    def basket(self, product_ids: Iterable[int], barcodes: Iterable[str] = ()) -> set[int]:
        """The basket's product ids; barcodes no rule knows are ignored (they match nothing)."""
        found = set(product_ids)
        found.update(self._barcodes[b] for b in barcodes if b in self._barcodes)
        return found

    def suggest(
        self, product_ids: Iterable[int], barcodes: Iterable[str] = (), *, k: int = SUGGESTIONS
    ) -> list[Suggestion]:
        """Up to ``k`` products to suggest for a basket, best first."""
        basket = self.basket(product_ids, barcodes)
        best: dict[int, _Entry] = {}
        for item in basket:
            for entry in self._filed.get(item, ()):
                if entry.head in basket or not entry.body <= basket:
                    continue
                known = best.get(entry.head)
                if known is None or entry.score > known.score:
                    best[entry.head] = entry
        top = heapq.nsmallest(k, best.values(), key=lambda e: (-e.score, e.head))
        return [self._suggestion(entry) for entry in top]

    def _suggestion(self, entry: _Entry) -> Suggestion:
        product = self._products[entry.head]
        return Suggestion(
            product_id=entry.head,
            barcode=product.barcode,
            name_zh=product.name_zh,
            name_en=product.name_en,
            score=entry.score,
            confidence=entry.confidence,
            lift=entry.lift,
            because=entry.body_ids,
        )


def index_build(session: Session, *, run_id: int) -> SuggestionIndex:
    """Read a product-level run's rules and the active products they name into an index."""
    rules: list[tuple[list[int], int, float, float]] = []
    for antecedent, consequent, confidence, lift in session.execute(
        select(
            BasketRule.antecedent, BasketRule.consequent, BasketRule.confidence, BasketRule.lift
        ).where(BasketRule.run_id == run_id)
    ):
        body = [product_key(str(key)) for key in antecedent]
        head = product_key(str(consequent))
        if head is None or not body or any(item is None for item in body):
            continue  # not a product-level rule
        rules.append(
            ([item for item in body if item is not None], head, float(confidence), float(lift))
        )
    named = sorted({item for body, head, _c, _l in rules for item in (*body, head)})
    products: dict[int, _Product] = {}
    columns = (Product.id, Product.barcode, Product.name_zh, Product.name_en, Product.active)
    for start in range(0, len(named), _CHUNK):
        chunk = named[start : start + _CHUNK]
        for pid, barcode, name_zh, name_en, active in session.execute(
            select(*columns).where(Product.id.in_(chunk))
        ):
            products[int(pid)] = _Product(barcode, name_zh, name_en, bool(active))
    return SuggestionIndex(run_id, rules, products)


_cache: OrderedDict[tuple[int, str], SuggestionIndex] = OrderedDict()
_lock = threading.Lock()


def index_for(session: Session, *, store_id: int | None) -> SuggestionIndex | None:
    """The index of the product-level run in force for a store (built on first use)."""
    token = run_token(session, level="product", store_id=store_id)
    if token is None:
        return None
    with _lock:
        found = _cache.get(token)
        if found is not None:
            _cache.move_to_end(token)
            return found
        # Built under the lock: concurrent first requests wait for one build, not race many.
        built = index_build(session, run_id=token[0])
        _cache[token] = built
        while len(_cache) > CACHED_RUNS:
            _cache.popitem(last=False)
        return built


def index_reset() -> None:
    """Forget every cached index (tests, and after deleting runs)."""
    with _lock:
        _cache.clear()
