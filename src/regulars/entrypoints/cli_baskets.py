"""Commands for market baskets: ``regulars baskets mine|runs|rules|export|shelf|promotion``.

``mine`` reads the receipts, mines rules (locally or on Spark) and stores them as a run; the
newest run of a level and store is the one the till and the pages use. ``runs`` lists the
runs, ``rules`` prints a run's rules and ``export`` writes them as CSV, both with the pages'
filters; ``shelf`` and ``promotion`` are the pages' two reports.
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
from regulars.catalog.models import Store
from regulars.catalog.queries import store_by_code
from regulars.core.config import get_settings
from regulars.core.errors import DomainError, NotFound
from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
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
# As the API's reports: at most 500 rows.
ReportLimit = Annotated[int, typer.Option(min=1, max=500, help="rows shown")]


def _store_id(uow: UnitOfWork, code: str | None) -> int | None:
    return store_by_code(uow.session, code=code).id if code else None


def _store_name(uow: UnitOfWork, store_id: int | None) -> str:
    """A run's store as staff type it (its code), or "all stores" for the chain's run."""
    store = uow.session.get(Store, store_id) if store_id is not None else None
    return store.code if store is not None else say(_("all stores"))


def _run_title(uow: UnitOfWork, run: BasketRun) -> str:
    """Which run a report is drawn from, as the pages say it above theirs."""
    return " · ".join(
        (
            say(_("Run {id}"), id=run.id),
            say(label(run.level)),
            _store_name(uow, run.store_id),
            say(_("{baskets} baskets, {rules} rules"), baskets=run.transactions, rules=run.rules),
            local_time(run.finished_at),
        )
    )


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


@baskets_app.command("runs")
def runs(
    level: Annotated[
        LevelName | None, typer.Option(help="product, category or brand; every level by default")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="runs shown")] = 50,
) -> None:
    """The mining runs, newest first, as the rules page lists them (failed ones too); the
    id is the one ``--run`` takes."""
    table = Table(
        "#",
        say(_("Level")),
        fold(say(_("Store"))),
        say(_("Period")),
        say(_("Status")),
        say(_("Baskets")),
        say(_("Rules")),
        say(_("Seconds")),
        say(_("Finished")),
        fold(say(_("Started by"))),
    )
    with context.new_uow() as uow:
        found = queries.runs_list(uow.session, limit=limit, level=level.value if level else None)
        for r in found:
            table.add_row(
                str(r.id),
                say(label(r.level)),
                _store_name(uow, r.store_id),
                f"{r.period_from or '…'} – {r.period_to or '…'}",
                say(label(r.status)),
                str(r.transactions),
                str(r.rules),
                "" if r.seconds is None else f"{r.seconds:.1f}",
                local_time(r.finished_at),
                r.started_by or "",
            )
    console.print(table)
    if not found:
        console.print(say(_("No run yet.")))


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


@baskets_app.command("shelf")
def shelf(
    store: StoreOpt = None,
    department: Annotated[
        str | None, typer.Option(help="only pairs with a category in this department")
    ] = None,
    together: Annotated[
        bool, typer.Option("--together", help="include pairs in the same department")
    ] = False,
    limit: ReportLimit = 50,
) -> None:
    """Category pairs bought together most above chance that sit apart (in different
    departments), from the category-level run in force: candidates to place nearer."""
    with context.new_uow() as uow:
        try:
            found = _run(uow, None, LevelName.category.value, _store_id(uow, store))
        except DomainError as exc:
            fail(exc)
        chosen = (department or "").strip() or None
        pairs = reports.shelf_pairs(
            uow.session, run=found, department=chosen, apart_only=not together, limit=limit
        )
        title = _run_title(uow, found)
    table = Table(
        fold(say(_("Category"))),
        fold(say(_("Department"))),
        fold(say(_("Category"))),
        fold(say(_("Department"))),
        say(_("Lift")),
        say(_("Support")),
        say(_("Confidence")) + " →",
        "← " + say(_("Confidence")),
        say(_("Apart")),
        title=title,
    )
    for p in pairs:
        table.add_row(
            p.category_a,
            p.department_a or "",
            p.category_b,
            p.department_b or "",
            f"{p.lift:.2f}",
            f"{p.support:.2%}",
            "" if p.confidence_ab is None else f"{p.confidence_ab:.1%}",
            "" if p.confidence_ba is None else f"{p.confidence_ba:.1%}",
            say(_("yes")) if p.apart else say(_("no")),
        )
    console.print(table)
    if not pairs:
        console.print(say(_("No rule matches.")))


@baskets_app.command("promotion")
def promotion(
    run: RunOpt = None,
    level: LevelOpt = LevelName.product,
    store: StoreOpt = None,
    limit: ReportLimit = 50,
) -> None:
    """Items ranked by how strongly they pull others into the basket (the sum of confidence
    × lift over the rules they start), with what each pulls: candidates to promote."""
    with context.new_uow() as uow:
        try:
            found = _run(uow, run, level.value, _store_id(uow, store))
        except DomainError as exc:
            fail(exc)
        items = reports.promotion(
            uow.session, run=found, limit=limit, locale=get_settings().default_locale
        )
        title = _run_title(uow, found)
    table = Table(
        fold(say(_("Item"))),
        say(_("Pull")),
        say(_("Rules")),
        fold(say(_("Pulls into the basket"))),
        title=title,
    )
    for p in items:
        table.add_row(
            p.item.name,
            f"{p.pull:.2f}",
            str(p.rules),
            "; ".join(f"{q.item.name} ({q.confidence:.0%}, ×{q.lift:.1f})" for q in p.pulls),
        )
    console.print(table)
    if not items:
        console.print(say(_("No rule matches.")))
