"""Receipts on the command line: ``regulars receipts find|show`` (the service desk's lookup).

Headings and labels are catalogue messages, printed in the configured language
(``REGULARS_DEFAULT_LOCALE``), like the domain errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError, InvalidInput
from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.core.timeutil import local_day
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
from regulars.sales import queries
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
receipts_app = typer.Typer(
    help="Receipts: find one by number, show it with its lines and returns.",
    no_args_is_help=True,
)


@receipts_app.command("find")
def receipts_find(
    number: Annotated[str | None, typer.Argument(help="the exact receipt number")] = None,
    store: Annotated[str | None, typer.Option(help="store code")] = None,
    terminal: Annotated[str | None, typer.Option(help="terminal code")] = None,
    member: Annotated[int | None, typer.Option(help="member id", min=1)] = None,
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="a day in the chain's time zone (YYYY-MM-DD)"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Receipts with this number, at a store and terminal, of a member, on a day (any
    of them, at least one), newest first. A member's receipts are a read of their
    profile, so that search is audited."""
    if not (number or store or terminal or member or day):
        fail(
            InvalidInput(
                _("give a receipt number, a store, a terminal, a member or a day"),
                field="receipt_no",
            )
        )
    since, until = local_day(day.date(), get_settings().timezone) if day else (None, None)
    with context.new_uow() as uow:
        found = queries.receipt_find(
            uow.session,
            receipt_no=number,
            store_code=store,
            terminal_code=terminal,
            member_id=member,
            since=since,
            until=until,
            limit=limit,
        )
        if member is not None:
            audit_record(
                uow,
                actor="cli",
                action="receipts_view",
                member_id=member,
                page="cli",
                detail={"receipts": len(found)},
            )
            uow.commit()
    table = Table(
        "id",
        fold(say(_("Time"))),
        fold(say(_("Store"))),
        fold(say(_("Terminal"))),
        fold(say(_("Receipt number"))),
        fold(say(_("Kind"))),
        fold(say(_("Items"))),
        fold(say(_("Total"))),
        fold(say(_("Source"))),
    )
    for r in found:
        table.add_row(
            str(r.id),
            local_time(r.occurred_at),
            r.store,
            r.terminal,
            r.receipt_no,
            say(label(r.kind)),
            str(r.line_count),
            str(r.total),
            say(label(r.source)),
        )
    console.print(table)
    if not found:
        console.print(say(_("Nothing found.")))


@receipts_app.command("show")
def receipts_show(receipt_id: Annotated[int, typer.Argument(help="receipt id")]) -> None:
    """One receipt: its facts, payments, lines with returned quantities, and returns."""
    with context.new_uow() as uow:
        try:
            r = queries.receipt_detail(uow.session, receipt_id=receipt_id)
        except DomainError as exc:
            fail(exc)
    facts = Table(show_header=False, title=say(_("Receipt {no}"), no=r.receipt_no))
    rows = [
        ("id", str(r.id)),
        (say(_("Kind")), say(label(r.kind))),
        (say(_("Time")), local_time(r.occurred_at)),
        (say(_("Store")), r.store),
        (say(_("Terminal")), r.terminal),
        (say(_("Cashier")), r.cashier or ""),
        (say(_("Member")), "" if r.member_id is None else str(r.member_id)),
        (say(_("Total")), str(r.total)),
        (say(_("Discount")), str(r.discount_total)),
        (say(_("Source")), say(label(r.source))),
        (say(_("Recorded at")), local_time(r.recorded_at)),
    ]
    if r.original is not None:
        rows.append((say(_("Original receipt")), f"{r.original.receipt_no} (id {r.original.id})"))
    payments = ", ".join(
        f"{say(label(str(p.get('method'))))} {p.get('amount', '')}" for p in r.payments
    )
    rows.append((say(_("Payments")), payments))
    for name, value in rows:
        facts.add_row(name, value)
    console.print(facts)
    sale = r.kind == "sale"
    headings = [
        fold(say(_("Product"))),
        fold(say(_("Barcode or SKU"))),
        fold(say(_("Quantity"))),
        fold(say(_("Unit price"))),
        fold(say(_("Discount"))),
        fold(say(_("Amount"))),
    ]
    if sale:  # a return's lines are the returning, nothing is returned of them
        headings.append(fold(say(_("Returned"))))
    lines = Table("#", *headings, title=say(_("Lines")))
    zh = get_settings().default_locale == "zh_CN"
    for line in r.lines:
        shown = (line.name_zh or line.name_en) if zh else (line.name_en or line.name_zh)
        cells = [
            str(line.line_no),
            shown or line.sku,
            line.barcode or line.sku,
            str(line.quantity.normalize()),
            str(line.unit_price),
            str(line.discount),
            str(line.amount),
        ]
        if sale:
            cells.append(str(line.returned.normalize()) if line.returned else "")
        lines.add_row(*cells)
    console.print(lines)
    if r.returns:
        returns = Table(
            "id",
            fold(say(_("Time"))),
            fold(say(_("Receipt number"))),
            fold(say(_("Total"))),
            title=say(_("Returns")),
        )
        for x in r.returns:
            returns.add_row(str(x.id), local_time(x.occurred_at), x.receipt_no, str(x.total))
        console.print(returns)
