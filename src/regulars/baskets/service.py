"""Writes of the basket domain: start a run, store its rules, mark it failed, prune old runs.

The rules arrive as a table (the analytics ``RULES`` columns: ``antecedent`` and
``consequent`` lists of item strings, counts and measures); this domain does not import
analytics, it only stores what the job hands it. Rules are inserted in bulk with Core
statements: a nightly run stores thousands of rows and the ORM's unit of work would add
nothing but time.
"""

from __future__ import annotations

import math
import secrets
from typing import TypedDict

import polars as pl
from sqlalchemy import delete, insert, select

from regulars.baskets.models import ITEM_LENGTH, BasketRule, BasketRuleItem, BasketRun
from regulars.baskets.schemas import MineIn
from regulars.catalog.models import Store
from regulars.core.errors import InvalidInput, NotFound
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork

RULE_COLUMNS = (
    "antecedent",
    "consequent",
    "count",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
)


def run_start(
    uow: UnitOfWork, *, data: MineIn, engine: str = "local", started_by: str | None = None
) -> BasketRun:
    """Record a run as started (its id is what the rules will hang on)."""
    if data.store_id is not None and uow.session.get(Store, data.store_id) is None:
        raise NotFound(_("store {id} not found"), field="store_id", id=data.store_id)
    run = BasketRun(
        level=data.level,
        store_id=data.store_id,
        period_from=data.period_from,
        period_to=data.period_to,
        min_support=data.min_support,
        min_confidence=data.min_confidence,
        min_lift=data.min_lift,
        engine=engine,
        status="running",
        started_at=utcnow(),
        started_by=started_by,
        transactions=0,
        itemsets=0,
        rules=0,
    )
    uow.session.add(run)
    uow.flush()
    return run


class _RuleRow(TypedDict):
    run_id: int
    antecedent: list[str]
    consequent: str
    size: int
    count: int
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float | None


def _rows(run_id: int, rules: pl.DataFrame) -> list[_RuleRow]:
    """The rule rows to insert; infinite conviction (confidence 1) is stored as null."""
    missing = [c for c in RULE_COLUMNS if c not in rules.columns]
    if missing:
        raise InvalidInput(
            _("the rules lack column(s) {columns}"), field="rules", columns=", ".join(missing)
        )
    # Column by column: Polars hands each over as one Python list, far cheaper than per row.
    columns = rules.select(RULE_COLUMNS).to_dict(as_series=False)
    rows: list[_RuleRow] = []
    for body, head, count, support, confidence, lift, leverage, conviction in zip(
        *(columns[name] for name in RULE_COLUMNS), strict=True
    ):
        if len(head) != 1:
            raise InvalidInput(_("only rules with one item on the right can be stored"))
        if any(len(item) > ITEM_LENGTH for item in (*body, head[0])):
            raise InvalidInput(
                _("an item name is longer than {length} characters"), length=ITEM_LENGTH
            )
        rows.append(
            _RuleRow(
                run_id=run_id,
                antecedent=list(body),
                consequent=head[0],
                size=len(body),
                count=int(count),
                support=float(support),
                confidence=float(confidence),
                lift=float(lift),
                leverage=float(leverage),
                conviction=None if conviction is None or math.isinf(conviction) else conviction,
            )
        )
    return rows


def run_finish(
    uow: UnitOfWork,
    *,
    run_id: int,
    rules: pl.DataFrame,
    transactions: int,
    itemsets: int,
    seconds: float,
) -> BasketRun:
    """Store a run's rules and mark it done; it becomes the run in force for its scope.

    The rules go in with one ``executemany`` and their ids are read back by what they say
    (a run holds each antecedent ⇒ consequent once): asking the insert to return the ids
    in order makes SQLite insert one row per statement.
    """
    run = uow.session.get(BasketRun, run_id)
    if run is None:
        raise NotFound(_("basket run {id} not found"), field="run_id", id=run_id)
    rows = _rows(run_id, rules)
    if rows:
        connection = uow.session.connection()
        connection.execute(insert(BasketRule), rows)
        ids = {
            (tuple(body), head): rule_id
            for rule_id, body, head in connection.execute(
                select(BasketRule.id, BasketRule.antecedent, BasketRule.consequent).where(
                    BasketRule.run_id == run_id
                )
            )
        }
        if len(ids) != len(rows):
            raise InvalidInput(_("the rules repeat a rule"), field="rules")
        items = [
            {
                "rule_id": ids[(tuple(row["antecedent"]), row["consequent"])],
                "item": item,
                "run_id": run_id,
            }
            for row in rows
            for item in row["antecedent"]
        ]
        connection.execute(insert(BasketRuleItem), items)
    run.status, run.finished_at, run.seconds = "done", utcnow(), round(seconds, 3)
    run.transactions, run.itemsets, run.rules = transactions, itemsets, len(rows)
    run.revision = secrets.token_hex(16)
    uow.flush()
    return run


def run_fail(uow: UnitOfWork, *, run_id: int, error: str) -> None:
    """Mark a run failed with the reason (its partial rules, if any, were rolled back)."""
    run = uow.session.get(BasketRun, run_id)
    if run is not None:
        run.status, run.finished_at, run.error = "failed", utcnow(), error[:2000]
        uow.flush()


def runs_prune(uow: UnitOfWork, *, keep: int) -> int:
    """Delete runs beyond the newest ``keep`` done (and ``keep`` failed) of each scope.

    A scope is a level and a store (or the whole chain). The newest done run of a scope,
    the one in force, is always kept, and so are runs still running. Rules go with their
    run; they are deleted explicitly so the prune does not depend on the connection
    enforcing ON DELETE CASCADE.
    """
    runs = uow.session.execute(
        select(BasketRun.id, BasketRun.level, BasketRun.store_id, BasketRun.status)
        .where(BasketRun.status != "running")
        .order_by(BasketRun.id.desc())
    ).all()
    seen: dict[tuple[str, int | None, str], int] = {}
    doomed: list[int] = []
    for run_id, level, store_id, status in runs:
        scope = (str(level), store_id, str(status))
        seen[scope] = seen.get(scope, 0) + 1
        if seen[scope] > max(keep, 1):
            doomed.append(int(run_id))
    if doomed:
        uow.session.execute(delete(BasketRuleItem).where(BasketRuleItem.run_id.in_(doomed)))
        uow.session.execute(delete(BasketRule).where(BasketRule.run_id.in_(doomed)))
        uow.session.execute(delete(BasketRun).where(BasketRun.id.in_(doomed)))
    return len(doomed)
