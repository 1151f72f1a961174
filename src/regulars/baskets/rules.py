"""Policy of the basket domain: levels, default thresholds and how a till suggestion is scored."""

from __future__ import annotations

from regulars.core.i18n import _

LEVELS = ("product", "category", "brand")
LEVEL_LABELS: dict[str, str] = {
    "product": _("product"),
    "category": _("category"),
    "brand": _("brand"),
}
ENGINES = ("local", "spark")

# Nightly defaults. Supermarket rules are rare events: a pair bought together in one basket
# in five hundred is already worth a shelf decision, and a cross-sell that works one time in
# ten is worth suggesting if it is well above chance (lift > 1).
DEFAULT_SUPPORT = 0.002
DEFAULT_CONFIDENCE = 0.1
DEFAULT_LIFT = 1.0
# Stored runs keep rules of at most five items, each seen in at least two baskets: longer
# rules act on nothing at the till or on the shelf, and without these bounds a small store
# with two identical large orders would have 2^(items in them) itemsets to count.
MAX_RULE_ITEMS = 5
MIN_BASKETS = 2
NIGHTLY_DAYS = 90  # the nightly run mines the last 90 days
KEEP_RUNS = 10  # finished runs kept per level and store scope (the newest is in force)

SUGGESTIONS = 3  # what the till shows


def suggestion_score(confidence: float, lift: float) -> float:
    """The till's ranking score of a rule: confidence × lift.

    Confidence alone favours what everybody buys anyway (bread, milk: high confidence, lift
    near 1); lift alone favours rare pairs that seldom convert. Their product is the chance
    the shopper takes the suggestion weighted by how much more likely than usual that is,
    i.e. support(X ∪ Y)² / (support(X)² · support(Y)) — high for strong *and* specific rules.
    When several rules suggest the same product the best one counts.
    """
    return confidence * lift


def label_level(level: str) -> str:
    """The catalogue id of a level's display name."""
    return LEVEL_LABELS.get(level, level)
