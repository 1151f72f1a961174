"""Commands for market baskets: ``regulars baskets mine|rules|export``.

``mine`` reads the receipts, mines rules (locally or on Spark) and stores them as a run; the
newest run of a level and store is the one the till and the pages use. ``rules`` prints a
run's rules and ``export`` writes them as CSV, both with the pages' filters.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from regulars.baskets import queries, reports
from regulars.baskets.models import BasketRun
from regulars.baskets.queries import RuleFilter
from regulars.baskets.rules import DEFAULT_CONFIDENCE, DEFAULT_LIFT, DEFAULT_SUPPORT
from regulars.baskets.schemas import MineIn, RuleRead
from regulars.catalog.queries import store_by_code
from regulars.core.config import get_settings
from regulars.core.errors import DomainError, NotFound
from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import say
from regulars.jobs.baskets import baskets_mine

console = Console()
err = Console(stderr=True)
baskets_app = typer.Typer(
    help="Market baskets: mine association rules, list and export them.", no_args_is_help=True
)


class LevelName(StrEnum):
    """What an item is."""

    product = "product"
    category = "category"
    brand = "brand"


class EngineName(StrEnum):
    """Where the mining runs."""

    local = "local"
    spark = "spark"


class OrderName(StrEnum):
    """How rules are ordered."""

    lift = "lift"
    confidence = "confidence"
    support = "support"
    leverage = "leverage"


LevelOpt = Annotated[LevelName, typer.Option(help="product, category or brand")]
StoreOpt = Annotated[str | None, typer.Option(help="store code; every store by default")]
RunOpt = Annotated[int | None, typer.Option(help="run id; the one in force by default")]


def _store_id(uow: UnitOfWork, code: str | None) -> int | None:
    return store_by_code(uow.session, code=code).id if code else None


def _run(uow: UnitOfWork, run_id: int | None, level: str, store_id: int | None) -> BasketRun:
    if run_id is not None:
        return queries.run_get(uow.session, run_id=run_id)
    found = queries.run_active(uow.session, level=level, store_id=store_id)
    if found is None:
        raise NotFound(_("no rules have been mined yet at this level"), field="run_id")
    return found


@baskets_app.command("mine")
def mine(
    level: LevelOpt = LevelName.product,
    support: Annotated[float, typer.Option(help="minimum support (share of baskets)")] = (
        DEFAULT_SUPPORT
    ),
    confidence: Annotated[float, typer.Option(help="minimum confidence")] = DEFAULT_CONFIDENCE,
    lift: Annotated[float, typer.Option(help="minimum lift")] = DEFAULT_LIFT,
    period_from: Annotated[
        str | None, typer.Option("--from", help="first day (YYYY-MM-DD), local")
    ] = None,
    period_to: Annotated[
        str | None, typer.Option("--to", help="last day (YYYY-MM-DD), local")
    ] = None,
    store: StoreOpt = None,
    engine: Annotated[EngineName, typer.Option(help="local (pyfim) or spark")] = (EngineName.local),
    master: Annotated[
        str | None, typer.Option(help="Spark master URL (default local[2]); with --engine spark")
    ] = None,
) -> None:
    """Mine the receipts into a new run of rules (it is in force once done)."""
    with context.new_uow() as uow:
        try:
            data = MineIn(
                level=level.value,
                min_support=support,
                min_confidence=confidence,
                min_lift=lift,
                period_from=date.fromisoformat(period_from) if period_from else None,
                period_to=date.fromisoformat(period_to) if period_to else None,
                store_id=_store_id(uow, store),
            )
        except DomainError as exc:
            fail(exc)
        except ValidationError as exc:
            fail(exc, code=2)
        except ValueError as exc:  # a --from/--to that is not a date
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from exc
        try:
            run = baskets_mine(uow, data=data, engine=engine.value, master=master, started_by="cli")
        except DomainError as exc:
            fail(exc)
    console.print(
        say(
            _(
                "run {run}: {level}, {baskets} baskets, {itemsets} itemsets,"
                " {rules} rules in {seconds} s ({engine})"
            ),
            run=run.id,
            level=say(label(run.level)),
            baskets=run.transactions,
            itemsets=run.itemsets,
            rules=run.rules,
            seconds=run.seconds,
            engine=say(label(run.engine)),
        )
    )


def _selected(
    uow: UnitOfWork,
    *,
    run_id: int | None,
    level: LevelName,
    store: str | None,
    where: RuleFilter,
    limit: int,
) -> tuple[BasketRun, int, list[RuleRead]]:
    run = _run(uow, run_id, level.value, _store_id(uow, store))
    total, rows = queries.rules_search(uow.session, run=run, where=where, limit=limit)
    locale = get_settings().default_locale
    return run, total, queries.rule_reads(uow.session, level=run.level, rules=rows, locale=locale)


MinSupport = Annotated[float | None, typer.Option(help="only rules with at least this support")]
MinConfidence = Annotated[float | None, typer.Option(help="at least this confidence")]
MinLift = Annotated[float | None, typer.Option(help="at least this lift")]
ItemOpt = Annotated[str | None, typer.Option(help="an item's name, barcode, category or brand")]
OrderOpt = Annotated[OrderName, typer.Option(help="lift, confidence, support or leverage")]


@baskets_app.command("rules")
def rules(
    run: RunOpt = None,
    level: LevelOpt = LevelName.product,
    store: StoreOpt = None,
    min_support: MinSupport = None,
    min_confidence: MinConfidence = None,
    min_lift: MinLift = None,
    item: ItemOpt = None,
    order: OrderOpt = OrderName.lift,
    limit: Annotated[int, typer.Option(help="rules shown")] = 30,
) -> None:
    """Show a run's rules, strongest first."""
    where = RuleFilter(min_support, min_confidence, min_lift, item, order.value)
    with context.new_uow() as uow:
        try:
            found, total, reads = _selected(
                uow, run_id=run, level=level, store=store, where=where, limit=limit
            )
        except DomainError as exc:
            fail(exc)
        title = say(
            _("run {run} ({level}): {rules} rules"),
            run=found.id,
            level=say(label(found.level)),
            rules=total,
        )
    table = Table(
        say(_("If the basket holds")),
        say(_("it also holds")),
        say(_("Support")),
        say(_("Confidence")),
        say(_("Lift")),
        say(_("Leverage")),
        say(_("Conviction")),
        title=title,
    )
    for rule in reads:
        table.add_row(
            " + ".join(i.name for i in rule.antecedent),
            rule.consequent.name,
            f"{rule.support:.4f}",
            f"{rule.confidence:.3f}",
            f"{rule.lift:.2f}",
            f"{rule.leverage:.4f}",
            "inf" if rule.conviction is None else f"{rule.conviction:.2f}",
        )
    console.print(table)


@baskets_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="CSV file to write")],
    run: RunOpt = None,
    level: LevelOpt = LevelName.product,
    store: StoreOpt = None,
    min_support: MinSupport = None,
    min_confidence: MinConfidence = None,
    min_lift: MinLift = None,
    item: ItemOpt = None,
    order: OrderOpt = OrderName.lift,
) -> None:
    """Write a run's rules (filtered) to a CSV file."""
    where = RuleFilter(min_support, min_confidence, min_lift, item, order.value)
    with context.new_uow() as uow:
        try:
            found, total, reads = _selected(
                uow, run_id=run, level=level, store=store, where=where, limit=10_000_000
            )
        except DomainError as exc:
            fail(exc)
        run_id = found.id
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(reports.rules_csv(reads), encoding="utf-8")
    console.print(say(_("{rules} rules of run {run} → {path}"), rules=total, run=run_id, path=out))
