"""Deals and personal lists on the command line: ``regulars deals import|list`` and the
``regulars lists generate|show|print`` commands (functions attached to the ``lists`` app)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.timeutil import utcnow
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.jobs.lists import lists_cycle
from regulars.members.queries import member_get
from regulars.members.rules import member_code
from regulars.offers import pdf, queries, service

console = Console()
err = Console(stderr=True)
deals_app = typer.Typer(
    help="Manufacturers' and the store's deals: import, list.", no_args_is_help=True
)


@deals_app.command("import")
def deals_import(file: Path) -> None:
    """Load deals from a CSV file; good rows load, bad rows are reported by line."""
    text = file.read_text(encoding="utf-8")
    with context.new_uow() as uow:
        try:
            report = service.deals_import(uow, text=text, source="import")
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(
        f"loaded {report.loaded}, updated {report.updated}, bad rows {len(report.errors)}"
    )
    for line, reason in report.errors:
        err.print(f"line {line}: {reason}")
    if report.errors:
        raise typer.Exit(2)


@deals_app.command("list")
def deals_list(
    active: Annotated[bool, typer.Option(help="only deals switched on")] = False,
) -> None:
    """The deals, newest first."""
    table = Table(
        "code", "title", "target", "kind", "value", "from", "to", "spent", "budget", "active"
    )
    with context.new_uow() as uow:
        for d in queries.deals_list(uow.session, active_only=active):
            table.add_row(
                d.code,
                d.title,
                f"{d.target}:{d.target_value}",
                d.kind,
                str(d.value) if d.kind != "bxgy" else f"{d.buy_qty}+{d.get_qty}",
                d.valid_from.date().isoformat(),
                d.valid_to.date().isoformat(),
                str(d.spent),
                "" if d.budget is None else str(d.budget),
                "yes" if d.active else "no",
            )
    console.print(table)


def lists_generate(
    day: Annotated[
        str | None, typer.Option(help="the cycle's first day (YYYY-MM-DD); today by default")
    ] = None,
    force: Annotated[bool, typer.Option(help="generate even if a cycle covers the day")] = False,
) -> None:
    """Generate (and announce) the personal lists of a cycle now."""
    when = date.fromisoformat(day) if day else date.today()  # noqa: DTZ011 - the operator's day
    with context.new_uow() as uow:
        try:
            result = lists_cycle(uow, today=when, force=force)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(result)


def lists_show(
    member: Annotated[int, typer.Option(help="member id")],
    lang: Annotated[str | None, typer.Option(help="en or zh_CN")] = None,
) -> None:
    """A member's current list with each line's reason."""
    locale = lang or get_settings().default_locale
    with context.new_uow() as uow:
        row = queries.member_current_list(uow.session, member_id=member, at=utcnow())
        if row is None:
            err.print("no current list")
            raise typer.Exit(1)
        view = queries.list_view(uow, list_id=row.id, locale=locale)
    console.print(
        f"{view.code}  {view.valid_from:%Y-%m-%d} – {view.valid_to:%Y-%m-%d}  budget {view.budget}"
    )
    table = Table("#", "product", "offer", "up to", "reason", "status")
    for item in view.items:
        offer = (
            f"{item.kind} {item.value}" if item.kind != "bxgy" else f"{item.buy_qty}+{item.get_qty}"
        )
        table.add_row(
            str(item.position),
            item.product_name or str(item.product_id),
            offer,
            str(item.max_discount),
            item.reason,
            item.status,
        )
    console.print(table)


def lists_print(
    member: Annotated[int, typer.Option(help="member id")],
    out: Annotated[Path, typer.Option(help="the PDF file to write")],
    lang: Annotated[str | None, typer.Option(help="en or zh_CN")] = None,
) -> None:
    """Write a member's current list as a printable PDF (barcode of the list, member QR)."""
    with context.new_uow() as uow:
        try:
            person = member_get(uow.session, member_id=member)
        except DomainError as exc:
            fail(exc)
        locale = lang or str((person.extra or {}).get("locale") or get_settings().default_locale)
        row = queries.member_current_list(uow.session, member_id=member, at=utcnow())
        if row is None:
            err.print("no current list")
            raise typer.Exit(1)
        view = queries.list_view(uow, list_id=row.id, locale=locale)
        name = person.name or member_code(person.id)
    out.write_bytes(
        pdf.list_pdf(view, member_name=name, member_code=member_code(member), locale=locale)
    )
    console.print(f"wrote {out}")


def attach_list_commands(app: typer.Typer) -> None:
    """Add ``generate``, ``show`` and ``print`` to the ``lists`` sub-app."""
    app.command("generate")(lists_generate)
    app.command("show")(lists_show)
    app.command("print")(lists_print)
