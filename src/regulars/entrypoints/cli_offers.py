"""Deals and personal lists on the command line: ``regulars deals import|list|show|retire``
and the ``regulars lists generate|show|print`` commands (functions attached to the ``lists``
app)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import _, translate
from regulars.core.schemas import MAX_ID
from regulars.core.templating import local_time
from regulars.core.timeutil import utcnow
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.jobs.lists import lists_cycle
from regulars.members.queries import member_get
from regulars.offers import pdf, queries, service
from regulars.offers.models import Deal
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
deals_app = typer.Typer(
    help="Manufacturers' and the store's deals: import, list, show, retire.", no_args_is_help=True
)
DealId = Annotated[
    int, typer.Argument(help="the deal's id (see regulars deals list)", min=1, max=MAX_ID)
]


def _t(message: str, **params: Any) -> str:
    """A catalogue message in the configured language."""
    return translate(message, get_settings().default_locale, **params)


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
        "id", "code", "title", "target", "kind", "value", "from", "to", "spent", "budget", "active"
    )
    with context.new_uow() as uow:
        for d in queries.deals_list(uow.session, active_only=active):
            table.add_row(
                str(d.id),
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


def _print_deal(deal: Deal) -> None:
    """One deal's terms, dates, funding and state as a two-column table."""
    locale = get_settings().default_locale
    facts = Table(show_header=False, title=f"{deal.code} {deal.title}")
    rows = [
        ("id", str(deal.id)),
        (_t(_("Code")), deal.code),
        (_t(_("Title")), deal.title),
        (_t(_("On")), f"{deal.target}: {deal.target_value}"),
        (
            _t(_("Offer")),
            pdf.terms_text(deal.kind, str(deal.value), deal.buy_qty, deal.get_qty, locale),
        ),
        (_t(_("Valid from")), local_time(deal.valid_from)),
        (_t(_("Valid to")), local_time(deal.valid_to)),
        (_t(_("Manufacturer share %")), str(deal.manufacturer_share)),
        (_t(_("Store share %")), str(deal.store_share)),
        (_t(_("Spent / budget")), f"{deal.spent} / {'' if deal.budget is None else deal.budget}"),
        (
            _t(_("Limit per member")),
            "" if deal.limit_per_member is None else str(deal.limit_per_member),
        ),
        (_t(_("Active")), _t(_("yes")) if deal.active else _t(_("no"))),
        (_t(_("Source")), deal.source),
    ]
    for name, value in rows:
        facts.add_row(name, value)
    console.print(facts)


@deals_app.command("show")
def deals_show(deal_id: DealId) -> None:
    """One deal: its terms, dates, funding, budget spent and whether it is on."""
    with context.new_uow() as uow:
        try:
            deal = service.deal_get(uow, deal_id=deal_id)
        except DomainError as exc:
            fail(exc)
        _print_deal(deal)


@deals_app.command("retire")
def deals_retire(deal_id: DealId) -> None:
    """Switch a deal off, as the deal page and ``DELETE /api/v1/deals/{id}`` do: new lists
    leave it out and the till stops giving it; it is kept for the lists and redemptions that
    name it. Audited like those."""
    with context.new_uow() as uow:
        try:
            deal = service.deal_retire(uow, deal_id=deal_id)
        except DomainError as exc:
            fail(exc)
        audit_record(uow, actor="cli", action="deal_retire", page="cli", detail={"code": deal.code})
        uow.commit()
        console.print(_t(_("Deal {code} is retired."), code=deal.code))


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
    """Write a member's current list as a printable PDF (barcode of the list, member QR).

    The sheet names the member, so printing it is audited as on the list page.
    """
    with context.new_uow() as uow:
        try:
            member_get(uow.session, member_id=member)
        except DomainError as exc:
            fail(exc)
        row = queries.member_current_list(uow.session, member_id=member, at=utcnow())
        if row is None:
            err.print("no current list")
            raise typer.Exit(1)
        view, content = pdf.list_document(
            uow, list_id=row.id, lang=lang, fallback=get_settings().default_locale
        )
        audit_record(
            uow,
            actor="cli",
            action="list_print",
            member_id=member,
            page="cli",
            detail={"list_id": view.id, "code": view.code},
        )
        out.write_bytes(content)
        uow.commit()
    console.print(f"wrote {out}")


def attach_list_commands(app: typer.Typer) -> None:
    """Add ``generate``, ``show`` and ``print`` to the ``lists`` sub-app."""
    app.command("generate")(lists_generate)
    app.command("show")(lists_show)
    app.command("print")(lists_print)
