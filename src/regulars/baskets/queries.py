"""Reads of the basket domain: runs, the run in force, rules, an item's companions, names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from regulars.baskets.models import BasketRule, BasketRuleItem, BasketRun
from regulars.baskets.schemas import ItemRef, RuleRead
from regulars.catalog.models import Product
from regulars.catalog.queries import product_search
from regulars.core.db import contains_pattern
from regulars.core.errors import NotFound
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID

__all__ = [
    "ORDERS",
    "RuleFilter",
    "as_number",
    "item_refs",
    "product_key",
    "rule_filter",
    "rule_reads",
    "rules_all",
    "rules_companions",
    "rules_page",
    "rules_search",
    "run_active",
    "run_chosen",
    "run_get",
    "run_token",
    "runs_list",
]

ORDERS: dict[str, Any] = {
    "lift": (BasketRule.lift.desc(), BasketRule.confidence.desc()),
    "confidence": (BasketRule.confidence.desc(), BasketRule.lift.desc()),
    "support": (BasketRule.support.desc(), BasketRule.lift.desc()),
    "leverage": (BasketRule.leverage.desc(), BasketRule.lift.desc()),
}
ITEM_MATCHES = 200  # products a text search may name before it is too vague to be useful
MAX_THRESHOLD = 1_000_000.0  # the largest lift (or other threshold) a filter takes


@dataclass(frozen=True)
class RuleFilter:
    """Which rules of a run to show, and in which order."""

    min_support: float | None = None
    min_confidence: float | None = None
    min_lift: float | None = None
    item: str | None = None  # text matched against item names (and barcodes, SKUs)
    order: str = "lift"


def as_number(
    value: float | str | None, *, low: float = 0.0, high: float = MAX_THRESHOLD
) -> float | None:
    """A number from a query parameter, typed or as typed into a form (``0,5`` reads 0.5).

    ``None`` when blank, unreadable or outside ``low``–``high``: a page's filter box then
    simply does not filter.
    """
    if value is None:
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if low <= number <= high else None


def rule_filter(
    *,
    min_support: float | str | None = None,
    min_confidence: float | str | None = None,
    min_lift: float | str | None = None,
    item: str | None = None,
    order: str | None = None,
) -> RuleFilter:
    """The filter of a rules list or export from its query parameters (the API's or a page's).

    Support and confidence are shares (0 to 1); an unknown order is by lift.
    """
    return RuleFilter(
        min_support=as_number(min_support, high=1.0),
        min_confidence=as_number(min_confidence, high=1.0),
        min_lift=as_number(min_lift),
        item=(item or "").strip() or None,
        order=order if order in ORDERS else "lift",
    )


def runs_list(session: Session, *, limit: int = 50, level: str | None = None) -> list[BasketRun]:
    """The newest runs first."""
    query = select(BasketRun).order_by(BasketRun.id.desc()).limit(limit)
    if level:
        query = query.where(BasketRun.level == level)
    return list(session.scalars(query))


def run_get(session: Session, *, run_id: int) -> BasketRun:
    """One run, or ``NotFound``."""
    run = session.get(BasketRun, run_id)
    if run is None:
        raise NotFound(_("basket run {id} not found"), field="run_id", id=run_id)
    return run


def _active(level: str, store_id: int | None) -> Select[BasketRun]:
    scope = BasketRun.store_id.is_(None) if store_id is None else BasketRun.store_id == store_id
    return (
        select(BasketRun)
        .where(BasketRun.level == level, BasketRun.status == "done", scope)
        .order_by(BasketRun.id.desc())
        .limit(1)
    )


def run_active(
    session: Session, *, level: str, store_id: int | None = None, fallback: bool = True
) -> BasketRun | None:
    """The run in force: the newest finished run of ``level`` for the store.

    With ``fallback`` a store without a run of its own gets the chain's (mined over every
    store). ``store_id=None`` asks for the chain's run.
    """
    found = session.scalars(_active(level, store_id)).first()
    if found is None and fallback and store_id is not None:
        found = session.scalars(_active(level, None)).first()
    return found


def run_chosen(
    session: Session, *, run_id: int | None, level: str, store_id: int | None
) -> BasketRun | None:
    """The run asked for (``NotFound`` when there is no such run), else the one in force."""
    if run_id is not None:
        return run_get(session, run_id=run_id)
    return run_active(session, level=level, store_id=store_id)


# Built once: the till asks this at every request, and building a statement (and its cache
# key) costs more than running it. A null store matches no row, leaving the chain's runs.
_TOKEN = (
    select(BasketRun.id, BasketRun.revision)
    .where(
        BasketRun.level == bindparam("level"),
        BasketRun.status == "done",
        or_(BasketRun.store_id == bindparam("store_id"), BasketRun.store_id.is_(None)),
    )
    .order_by(case((BasketRun.store_id.is_(None), 1), else_=0), BasketRun.id.desc())
    .limit(1)
)


def run_token(session: Session, *, level: str, store_id: int | None) -> tuple[int, str] | None:
    """The id and revision of the run in force, in one indexed read (the till asks each time).

    The store's own newest run wins over the chain's, as in :func:`run_active`.
    """
    found = session.connection().execute(_TOKEN, {"level": level, "store_id": store_id}).first()
    return (int(found[0]), str(found[1])) if found is not None else None


def _matching_keys(session: Session, run: BasketRun, text: str) -> list[str]:
    """The run's item keys whose name (or barcode, SKU) matches ``text``."""
    if run.level == "product":
        found = product_search(session, text=text, limit=ITEM_MATCHES)
        return [str(p.id) for p in found]
    pattern = contains_pattern(text.strip().lower())
    heads = select(BasketRule.consequent.label("item")).where(
        BasketRule.run_id == run.id,
        func.lower(BasketRule.consequent).like(pattern, escape="\\"),
    )
    bodies = select(BasketRuleItem.item).where(
        BasketRuleItem.run_id == run.id,
        func.lower(BasketRuleItem.item).like(pattern, escape="\\"),
    )
    return sorted({str(k) for k in session.scalars(heads.union(bodies))})[:ITEM_MATCHES]


def _touching(run_id: int, keys: list[str]) -> Any:
    """Rules of a run whose antecedent or consequent holds one of ``keys``."""
    bodies = select(BasketRuleItem.rule_id).where(
        BasketRuleItem.run_id == run_id, BasketRuleItem.item.in_(keys)
    )
    return or_(BasketRule.consequent.in_(keys), BasketRule.id.in_(bodies))


def rules_search(
    session: Session,
    *,
    run: BasketRun,
    where: RuleFilter,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[BasketRule]]:
    """A page of a run's rules that pass the filter, and how many pass it."""
    conditions: list[Any] = [BasketRule.run_id == run.id]
    if where.min_support is not None:
        conditions.append(BasketRule.support >= where.min_support)
    if where.min_confidence is not None:
        conditions.append(BasketRule.confidence >= where.min_confidence)
    if where.min_lift is not None:
        conditions.append(BasketRule.lift >= where.min_lift)
    if where.item and where.item.strip():
        keys = _matching_keys(session, run, where.item)
        if not keys:
            return 0, []
        conditions.append(_touching(run.id, keys))
    total = session.scalar(select(func.count()).select_from(BasketRule).where(*conditions)) or 0
    order = ORDERS.get(where.order, ORDERS["lift"])
    rows = session.scalars(
        select(BasketRule)
        .where(*conditions)
        .order_by(*order, BasketRule.id)
        .limit(limit)
        .offset(offset)
    )
    return int(total), list(rows)


def rules_page(
    session: Session,
    *,
    run: BasketRun,
    where: RuleFilter,
    limit: int,
    offset: int = 0,
    locale: str = "en",
) -> tuple[int, list[RuleRead]]:
    """A page of a run's rules that pass the filter, named for staff, and how many pass it."""
    total, rows = rules_search(session, run=run, where=where, limit=limit, offset=offset)
    return total, rule_reads(session, level=run.level, rules=rows, locale=locale)


def rules_all(session: Session, *, run_id: int) -> list[BasketRule]:
    """Every rule of a run, strongest (by lift) first."""
    return list(
        session.scalars(
            select(BasketRule)
            .where(BasketRule.run_id == run_id)
            .order_by(*ORDERS["lift"], BasketRule.id)
        )
    )


def rules_companions(
    session: Session, *, run_id: int, item: str, limit: int = 50
) -> tuple[list[BasketRule], list[BasketRule]]:
    """Rules whose antecedent holds ``item``, and rules whose consequent is ``item``."""
    bodies = select(BasketRuleItem.rule_id).where(
        BasketRuleItem.run_id == run_id, BasketRuleItem.item == item
    )
    with_it = session.scalars(
        select(BasketRule)
        .where(BasketRule.run_id == run_id, BasketRule.id.in_(bodies))
        .order_by(*ORDERS["lift"], BasketRule.id)
        .limit(limit)
    )
    to_it = session.scalars(
        select(BasketRule)
        .where(BasketRule.run_id == run_id, BasketRule.consequent == item)
        .order_by(*ORDERS["lift"], BasketRule.id)
        .limit(limit)
    )
    return list(with_it), list(to_it)


def product_key(key: str) -> int | None:
    """The product id a product-level item key names, or ``None`` if it names none."""
    if not key.isascii() or not key.isdigit() or len(key) > len(str(MAX_ID)):
        return None
    value = int(key)
    return value if 0 < value <= MAX_ID else None


def _product_name(product: Product, locale: str) -> str:
    names = (
        (product.name_zh, product.name_en)
        if locale == "zh_CN"
        else (product.name_en, product.name_zh)
    )
    return next((n for n in names if n), None) or product.sku


def item_refs(
    session: Session, *, level: str, keys: Iterable[str], locale: str = "en"
) -> dict[str, ItemRef]:
    """What staff read for each item key: a product's name and barcode, or the name itself."""
    wanted = sorted(set(keys))
    if level != "product":
        return {key: ItemRef(key=key, name=key) for key in wanted}
    ids = [pid for pid in map(product_key, wanted) if pid is not None]
    products = (
        {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
        if ids
        else {}
    )
    refs: dict[str, ItemRef] = {}
    for key in wanted:
        pid = product_key(key)
        product = products.get(pid) if pid is not None else None
        if product is None:
            refs[key] = ItemRef(key=key, name=f"#{key}")
        else:
            refs[key] = ItemRef(
                key=key,
                name=_product_name(product, locale),
                product_id=product.id,
                barcode=product.barcode,
            )
    return refs


def rule_reads(
    session: Session, *, level: str, rules: list[BasketRule], locale: str = "en"
) -> list[RuleRead]:
    """Rules with their items named, for pages, the API and exports."""
    refs = item_refs(
        session,
        level=level,
        keys=[k for r in rules for k in (*r.antecedent, r.consequent)],
        locale=locale,
    )
    return [
        RuleRead(
            id=r.id,
            antecedent=[refs[k] for k in r.antecedent],
            consequent=refs[r.consequent],
            count=r.count,
            support=r.support,
            confidence=r.confidence,
            lift=r.lift,
            leverage=r.leverage,
            conviction=r.conviction,
        )
        for r in rules
    ]
