"""Receipts on the command line: ``regulars receipts find|show`` (the service desk's lookup).

Headings and labels are catalogue messages, printed in the configured language
(``REGULARS_DEFAULT_LOCALE``), like the domain errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError, InvalidInput
from regulars.core.i18n import _, translate
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.core.timeutil import local_day
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.sales import queries
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
receipts_app = typer.Typer(
    help="Receipts: find one by number, show it with its lines and returns.",
    no_args_is_help=True,
)


def _t(message: str, **params: Any) -> str:
    """A catalogue message in the configured language."""
    return translate(message, get_settings().default_locale, **params)


def _col(heading: str) -> Column:
    """A column that folds a long value onto more lines on a narrow terminal, never cuts it."""
    return Column(heading, overflow="fold")


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
        _col(_t(_("Time"))),
        _col(_t(_("Store"))),
        _col(_t(_("Terminal"))),
        _col(_t(_("Receipt number"))),
        _col(_t(_("Kind"))),
        _col(_t(_("Items"))),
        _col(_t(_("Total"))),
        _col(_t(_("Source"))),
    )
    for r in found:
        table.add_row(
            str(r.id),
            local_time(r.occurred_at),
            r.store,
            r.terminal,
            r.receipt_no,
            _t(label(r.kind)),
            str(r.line_count),
            str(r.total),
            _t(label(r.source)),
        )
    console.print(table)
    if not found:
        console.print(_t(_("Nothing found.")))


@receipts_app.command("show")
def receipts_show(receipt_id: Annotated[int, typer.Argument(help="receipt id")]) -> None:
    """One receipt: its facts, payments, lines with returned quantities, and returns."""
    with context.new_uow() as uow:
        try:
            r = queries.receipt_detail(uow.session, receipt_id=receipt_id)
        except DomainError as exc:
            fail(exc)
    facts = Table(show_header=False, title=_t(_("Receipt {no}"), no=r.receipt_no))
    rows = [
        ("id", str(r.id)),
        (_t(_("Kind")), _t(label(r.kind))),
        (_t(_("Time")), local_time(r.occurred_at)),
        (_t(_("Store")), r.store),
        (_t(_("Terminal")), r.terminal),
        (_t(_("Cashier")), r.cashier or ""),
        (_t(_("Member")), "" if r.member_id is None else str(r.member_id)),
        (_t(_("Total")), str(r.total)),
        (_t(_("Discount")), str(r.discount_total)),
        (_t(_("Source")), _t(label(r.source))),
        (_t(_("Recorded at")), local_time(r.recorded_at)),
    ]
    if r.original is not None:
        rows.append((_t(_("Original receipt")), f"{r.original.receipt_no} (id {r.original.id})"))
    payments = ", ".join(
        f"{_t(label(str(p.get('method'))))} {p.get('amount', '')}" for p in r.payments
    )
    rows.append((_t(_("Payments")), payments))
    for name, value in rows:
        facts.add_row(name, value)
    console.print(facts)
    sale = r.kind == "sale"
    headings = [
        _col(_t(_("Product"))),
        _col(_t(_("Barcode or SKU"))),
        _col(_t(_("Quantity"))),
        _col(_t(_("Unit price"))),
        _col(_t(_("Discount"))),
        _col(_t(_("Amount"))),
    ]
    if sale:  # a return's lines are the returning, nothing is returned of them
        headings.append(_col(_t(_("Returned"))))
    lines = Table("#", *headings, title=_t(_("Lines")))
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
            _col(_t(_("Time"))),
            _col(_t(_("Receipt number"))),
            _col(_t(_("Total"))),
            title=_t(_("Returns")),
        )
        for x in r.returns:
            returns.add_row(str(x.id), local_time(x.occurred_at), x.receipt_no, str(x.total))
        console.print(returns)
