"""API shapes of the basket domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from regulars.baskets import rules
from regulars.core.i18n import _
from regulars.core.schemas import Day, Id, ReadSchema, Schema, refuse

LevelName = Literal["product", "category", "brand"]
# Below one basket in ten thousand the itemsets of a real chain explode combinatorially
# (and a rule seen in a handful of baskets is noise), so a run never goes lower.
Share = Annotated[float, Field(ge=0.0001, le=1)]
Barcode = Annotated[str, Field(min_length=1, max_length=14)]


class MineIn(Schema):
    """What to mine: level, period (local days, inclusive), store and thresholds.

    Leaving the period out mines every receipt; leaving the store out mines every store.
    The period's days are days a chain can mean (``Day``): their local start and the day
    after them always exist.
    """

    level: LevelName = "product"
    period_from: Day | None = None
    period_to: Day | None = None
    store_id: Id | None = None
    min_support: Share = rules.DEFAULT_SUPPORT
    min_confidence: Annotated[float, Field(ge=0, le=1)] = rules.DEFAULT_CONFIDENCE
    min_lift: Annotated[float, Field(ge=0, le=1_000_000)] = rules.DEFAULT_LIFT

    @model_validator(mode="after")
    def _period_in_order(self) -> MineIn:
        """The period must not end before it starts."""
        if self.period_from and self.period_to and self.period_to < self.period_from:
            refuse(_("must not be before period_from"), field="period_to")
        return self


class RunRead(ReadSchema):
    """A mining run: what was mined, how, and what it found."""

    id: int
    level: str
    store_id: int | None
    period_from: date | None
    period_to: date | None
    min_support: float
    min_confidence: float
    min_lift: float
    engine: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    transactions: int
    itemsets: int
    rules: int
    started_by: str | None
    error: str | None


class ItemRef(Schema):
    """An item of a rule: its key (a product id, a category or a brand) and what staff read."""

    key: str
    name: str
    product_id: int | None = None
    barcode: str | None = None


class RuleRead(Schema):
    """A rule with its measures; ``conviction`` is null when infinite (confidence 1)."""

    id: int
    antecedent: list[ItemRef]
    consequent: ItemRef
    count: int
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float | None


class RulePage(Schema):
    """One page of a run's rules."""

    run: RunRead
    total: int
    items: list[RuleRead]


class CompanionsRead(Schema):
    """One item's companions in a run: what it leads to, and what leads to it."""

    run: RunRead
    item: ItemRef
    bought_with: list[RuleRead]  # rules whose antecedent holds the item
    leads_here: list[RuleRead]  # rules whose consequent is the item


class EdgeRead(Schema):
    """One arrow of the network chart: a one-item rule."""

    source: ItemRef
    target: ItemRef
    confidence: float
    lift: float


class NetworkRead(Schema):
    """The strongest one-item rules of a run, as drawn on the network chart."""

    run: RunRead
    edges: list[EdgeRead]


class SuggestIn(Schema):
    """The basket being scanned: product ids or barcodes (either or both)."""

    product_ids: Annotated[list[Id], Field(max_length=500)] = []
    barcodes: Annotated[list[Barcode], Field(max_length=500)] = []


class SuggestionRead(Schema):
    """A product to suggest, why (the products of the basket behind it) and its score."""

    product_id: int
    barcode: str | None
    name_zh: str | None
    name_en: str | None
    score: float
    confidence: float
    lift: float
    because: list[int]


class SuggestionsRead(Schema):
    """Up to three suggestions from the run in force (none when no run is)."""

    run_id: int | None
    suggestions: list[SuggestionRead]


class ShelfPairRead(Schema):
    """Two categories bought together more than chance, and whether they sit apart."""

    category_a: str
    department_a: str | None
    category_b: str
    department_b: str | None
    lift: float
    support: float
    confidence_ab: float | None
    confidence_ba: float | None
    apart: bool


class ShelfReport(Schema):
    """The shelf-adjacency report of one store (or the chain) and department."""

    run: RunRead | None
    store_id: int | None
    department: str | None
    pairs: list[ShelfPairRead]


class PulledRead(Schema):
    """A product pulled into baskets by another, with the rule's confidence and lift."""

    item: ItemRef
    confidence: float
    lift: float


class PromotionRead(Schema):
    """How strongly a product pulls others into the basket, and which."""

    item: ItemRef
    pull: float
    rules: int
    pulls: list[PulledRead]


class PromotionReport(Schema):
    """The promotion report of a run: products ranked by pull."""

    run: RunRead | None
    items: list[PromotionRead]
