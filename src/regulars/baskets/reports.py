"""Reports built on a run's rules: shelf adjacency, promotion pull, the strongest rules.

**Shelf adjacency** works on a category-level run. The catalogue has no aisle or planogram
data, so *sitting apart* is defined from the category path: two categories sit apart when
they belong to different departments (or when a department is unknown, when only the
categories — which always differ — can be compared). Pairs are the rules with one item on
each side; lift is symmetric, so A ⇒ B and B ⇒ A are one pair with both confidences.

**Promotion pull** of an item P over a run: the sum, over the rules whose antecedent holds
P, of confidence × lift divided by the antecedent's size (a rule with three items in its
antecedent gives each a third of the credit). A product with a high pull brings other
products into the basket; the products it pulls are the heads of those rules, ranked by the
same weight.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.baskets.models import BasketRule, BasketRun
from regulars.baskets.queries import RuleFilter, item_refs, rules_page
from regulars.baskets.schemas import PromotionRead, PulledRead, RuleRead, ShelfPairRead
from regulars.catalog.models import Product

__all__ = [
    "Edge",
    "category_departments",
    "promotion",
    "rules_csv",
    "rules_export",
    "shelf_pairs",
    "strongest_pairs",
]

PULLED_SHOWN = 5
EXPORT_LIMIT = 10_000_000  # an export holds every rule that passes the filter


def category_departments(session: Session) -> dict[str, str]:
    """Each category's department: the one most of its products are filed under."""
    rows = session.execute(
        select(Product.category, Product.department, func.count())
        .where(Product.category.is_not(None), Product.department.is_not(None))
        .group_by(Product.category, Product.department)
    )
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for category, department, count in rows:
        votes[str(category).strip()][str(department)] += int(count)
    return {
        category: min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        for category, counts in votes.items()
    }


@dataclass
class _Pair:
    lift: float
    support: float
    confidence: dict[str, float] = field(default_factory=dict)


def _pairs(session: Session, run: BasketRun) -> dict[tuple[str, str], _Pair]:
    """The run's one-item-to-one-item rules folded into unordered pairs."""
    pairs: dict[tuple[str, str], _Pair] = {}
    for antecedent, consequent, support, confidence, lift in session.execute(
        select(
            BasketRule.antecedent,
            BasketRule.consequent,
            BasketRule.support,
            BasketRule.confidence,
            BasketRule.lift,
        ).where(BasketRule.run_id == run.id, BasketRule.size == 1)
    ):
        source, target = str(antecedent[0]), str(consequent)
        key = (source, target) if source <= target else (target, source)
        pair = pairs.setdefault(key, _Pair(lift=float(lift), support=float(support)))
        pair.lift = max(pair.lift, float(lift))
        pair.confidence[source] = float(confidence)
    return pairs


def shelf_pairs(
    session: Session,
    *,
    run: BasketRun,
    department: str | None = None,
    apart_only: bool = True,
    limit: int = 50,
) -> list[ShelfPairRead]:
    """Category pairs of a category-level run with the highest lift, optionally apart only.

    ``department`` keeps the pairs with at least one category in that department.
    """
    departments = category_departments(session)
    found: list[ShelfPairRead] = []
    for (first, second), pair in _pairs(session, run).items():
        dept_a, dept_b = departments.get(first), departments.get(second)
        apart = dept_a is None or dept_b is None or dept_a != dept_b
        if apart_only and not apart:
            continue
        if department and department not in (dept_a, dept_b):
            continue
        found.append(
            ShelfPairRead(
                category_a=first,
                department_a=dept_a,
                category_b=second,
                department_b=dept_b,
                lift=pair.lift,
                support=pair.support,
                confidence_ab=pair.confidence.get(first),
                confidence_ba=pair.confidence.get(second),
                apart=apart,
            )
        )
    found.sort(key=lambda p: (-p.lift, -p.support, p.category_a, p.category_b))
    return found[:limit]


def promotion(
    session: Session, *, run: BasketRun, limit: int = 50, locale: str = "en"
) -> list[PromotionRead]:
    """Items ranked by the pull of their rules as antecedent, with what each pulls."""
    pull: dict[str, float] = defaultdict(float)
    count: Counter[str] = Counter()
    pulled: dict[str, dict[str, tuple[float, float, float]]] = defaultdict(dict)
    for antecedent, consequent, confidence, lift in session.execute(
        select(
            BasketRule.antecedent, BasketRule.consequent, BasketRule.confidence, BasketRule.lift
        ).where(BasketRule.run_id == run.id)
    ):
        share = float(confidence) * float(lift) / len(antecedent)
        for item in antecedent:
            key = str(item)
            pull[key] += share
            count[key] += 1
            head = str(consequent)
            known = pulled[key].get(head)
            if known is None or share > known[0]:
                pulled[key][head] = (share, float(confidence), float(lift))
    ranked = sorted(pull, key=lambda key: (-pull[key], key))[:limit]
    shown = {
        key: sorted(pulled[key].items(), key=lambda kv: (-kv[1][0], kv[0]))[:PULLED_SHOWN]
        for key in ranked
    }
    refs = item_refs(
        session,
        level=run.level,
        keys=[*ranked, *(head for heads in shown.values() for head, _v in heads)],
        locale=locale,
    )
    return [
        PromotionRead(
            item=refs[key],
            pull=pull[key],
            rules=count[key],
            pulls=[
                PulledRead(item=refs[head], confidence=values[1], lift=values[2])
                for head, values in shown[key]
            ],
        )
        for key in ranked
    ]


@dataclass(frozen=True)
class Edge:
    """One rule of the network chart: from the antecedent item to the consequent."""

    source: str
    target: str
    confidence: float
    lift: float


def strongest_pairs(session: Session, *, run: BasketRun, limit: int = 30) -> list[Edge]:
    """The strongest one-item rules of a run (by lift, then confidence), for the chart."""
    rows = session.execute(
        select(BasketRule.antecedent, BasketRule.consequent, BasketRule.confidence, BasketRule.lift)
        .where(BasketRule.run_id == run.id, BasketRule.size == 1)
        .order_by(BasketRule.lift.desc(), BasketRule.confidence.desc(), BasketRule.id)
        .limit(limit)
    )
    return [
        Edge(source=str(a[0]), target=str(c), confidence=float(conf), lift=float(lift))
        for a, c, conf, lift in rows
    ]


CSV_HEADER = (
    "antecedent",
    "consequent",
    "antecedent_keys",
    "consequent_key",
    "count",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
)


def _cell(text: str) -> str:
    """A text cell that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rules_csv(rules: Sequence[RuleRead]) -> str:
    """Rules as CSV (UTF-8 with a BOM so spreadsheet programs read the Chinese names)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for rule in rules:
        writer.writerow(
            (
                _cell(" + ".join(item.name for item in rule.antecedent)),
                _cell(rule.consequent.name),
                _cell(" ".join(item.key for item in rule.antecedent)),
                _cell(rule.consequent.key),
                rule.count,
                f"{rule.support:.6g}",
                f"{rule.confidence:.6g}",
                f"{rule.lift:.6g}",
                f"{rule.leverage:.6g}",
                "inf" if rule.conviction is None else f"{rule.conviction:.6g}",
            )
        )
    return "\ufeff" + out.getvalue()


def rules_export(
    session: Session, *, run: BasketRun, where: RuleFilter, locale: str = "en"
) -> tuple[str, str]:
    """Every rule of a run that passes the filter as CSV, and the file's name."""
    _total, reads = rules_page(session, run=run, where=where, limit=EXPORT_LIMIT, locale=locale)
    return f"basket-rules-{run.id}.csv", rules_csv(reads)
