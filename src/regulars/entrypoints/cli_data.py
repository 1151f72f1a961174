"""Commands that move data in bulk: ``regulars import …`` and ``regulars demo …``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.demo import service as demo_service
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
from regulars.imports import service as import_service
from regulars.imports.formats import Kind
from regulars.imports.outcome import WAITING, RowError
from regulars.imports.outcome import Progress as ProgressCallback
from regulars.imports.queries import runs_recent

import_app = typer.Typer(
    help="Bulk import of members, products and receipts (CSV or Parquet).", no_args_is_help=True
)
demo_app = typer.Typer(
    help="The demo store built from ../shared/data/completejourney.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)
SHOWN_ERRORS = 20


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    """A Rich progress bar fed by the services' (stage, done, total) callback."""
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage == WAITING:  # another import's batch first (``bulk.import_turn``)
                console.print(say(_("waiting for another import to finish a batch")))
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _errors_table(errors: list[RowError], total_bad: int, report: str | None) -> None:
    table = Table(
        say(_("Line")),
        say(_("Column")),
        say(_("Reason")),
        say(_("Value")),
        title=say(_("Bad rows (the first {n})"), n=SHOWN_ERRORS),
    )
    for e in errors[:SHOWN_ERRORS]:
        table.add_row(str(e.line), e.column, e.reason, e.value or "")
    console.print(table)
    console.print(say(_("{n} bad rows; full report: {report}"), n=total_bad, report=report))


def _import(kind: Kind, path: Path) -> None:
    with context.new_uow() as uow:
        try:
            with _progress_bar() as progress:
                run, outcome = import_service.import_file(
                    uow,
                    kind=kind,
                    data=path,
                    filename=path.name,
                    actor="cli",
                    checkpoint=uow.commit,
                    progress=progress,
                )
        except DomainError as exc:
            fail(exc, code=2)
        uow.commit()
    table = Table(
        say(_("Run")),
        say(_("Kind")),
        say(_("Rows")),
        say(_("Loaded")),
        say(_("Unchanged")),
        say(_("Bad")),
        title=str(path),
    )
    table.add_row(
        str(run.id),
        say(label(kind)),
        str(run.rows_total),
        str(run.rows_loaded),
        str(run.rows_unchanged),
        f"[red]{run.rows_bad}[/red]" if run.rows_bad else "0",
    )
    console.print(table)
    if run.rows_bad:
        _errors_table(outcome.sorted_errors(), run.rows_bad, run.report_path)
        raise typer.Exit(1)


FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or Parquet file")]


@import_app.command("members")
def import_members(file: FileArg) -> None:
    """Import members (see docs/import-formats.md)."""
    _import("members", file)


@import_app.command("products")
def import_products(file: FileArg) -> None:
    """Import products (see docs/import-formats.md)."""
    _import("products", file)


@import_app.command("receipts")
def import_receipts(file: FileArg) -> None:
    """Import receipts, one row per line (see docs/import-formats.md)."""
    _import("receipts", file)


@import_app.command("returns")
def import_returns(file: FileArg) -> None:
    """Import returns, one row per returned line (see docs/import-formats.md)."""
    _import("returns", file)


@import_app.command("runs")
def import_runs(
    limit: Annotated[int, typer.Option(min=1, max=500, help="runs shown")] = 30,
) -> None:
    """Recent import runs, newest first, as the /imports page lists them (uploads too).

    Who started each run is left to the page and ``GET /api/v1/imports``: the page's nine
    columns do not fit a terminal of 80, and a date cut short would be worse.
    """
    table = Table(
        say(_("Run")),
        Column(say(_("Started")), min_width=10),  # the date whole, the time below it
        say(_("Kind")),
        fold(say(_("File"))),
        say(_("Status")),
        say(_("Loaded")),
        say(_("Unchanged")),
        say(_("Bad")),
    )
    with context.new_uow() as uow:
        for run in runs_recent(uow.session, limit=limit):
            table.add_row(
                str(run.id),
                local_time(run.started_at),
                say(label(run.kind)),
                run.filename,
                say(label(run.status)),
                str(run.rows_loaded),
                str(run.rows_unchanged),
                f"[red]{run.rows_bad}[/red]" if run.rows_bad else "0",
            )
    console.print(table)


@demo_app.command("load")
def demo_load(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="do nothing when demo data exists")
    ] = False,
    limit_lines: Annotated[
        int | None, typer.Option("--limit-lines", help="load only the first N lines")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="folder of the Complete Journey CSV files")
    ] = None,
) -> None:
    """Build the demo store from Complete Journey (members, products, stores, receipts)."""
    folder = data_dir or get_settings().shared_data_dir / "completejourney" / "csv"
    with context.new_uow() as uow:
        if if_empty and demo_service.demo_exists(uow):
            console.print(say(_("demo data already loaded")))
            return
        try:
            with _progress_bar() as progress:
                summary = demo_service.demo_load(
                    uow,
                    data_dir=folder,
                    limit_lines=limit_lines,
                    checkpoint=uow.commit,
                    progress=progress,
                )
        except DomainError as exc:
            fail(exc, code=2)
        uow.commit()
    table = Table(
        say(_("Kind")),
        say(_("Run")),
        say(_("Rows")),
        say(_("Loaded")),
        say(_("Unchanged")),
        say(_("Bad")),
        say(_("Report")),
    )
    for step in summary.steps:
        table.add_row(
            say(label(step.kind)),
            str(step.run_id),
            str(step.total),
            str(step.loaded),
            str(step.unchanged),
            str(step.bad),
            step.report or "",
        )
    console.print(table)
    console.print(
        say(
            _(
                "households {households}, products {products}, stores {stores},"
                " baskets {baskets}, lines {lines}, consents {consents}, deals {deals},"
                " opening balances {opening}: {seconds} s"
            ),
            households=summary.households,
            products=summary.products,
            stores=summary.stores,
            baskets=summary.baskets,
            lines=summary.lines,
            consents=summary.consents,
            deals=summary.deals,
            opening=summary.opening_points,
            seconds=f"{summary.seconds:.1f}",
        )
    )


@demo_app.command("info")
def demo_info() -> None:
    """Tell whether the demo store is loaded."""
    with context.new_uow() as uow:
        loaded = demo_service.demo_exists(uow)
    console.print(say(_("demo data loaded")) if loaded else say(_("no demo data")))
