"""Deals and personal lists on the command line: ``regulars deals
import|list|show|add|set|retire|statement`` and the ``regulars lists
generate|show|print|settings|cycles|results`` commands (functions attached to the ``lists``
app).

The same services as the deal and cycle pages, audited as there. Deal terms are typed as
text and read by the API's schemas, so a refused value names its field as the page does;
a day (``YYYY-MM-DD``) means its first moment in the chain's time zone, the way the
statement's period and a deal's dates are stored (the end is not included).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table

from regulars.catalog.models import Manufacturer
from regulars.core.config import get_settings
from regulars.core.errors import DomainError, InvalidInput
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID
from regulars.core.templating import local_time
from regulars.core.timeutil import local_day, utcnow
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
from regulars.jobs.lists import lists_cycle
from regulars.members.queries import member_get
from regulars.offers import pdf, queries, results, service
from regulars.offers.models import Deal
from regulars.offers.schemas import DealCreate, DealUpdate, ListSettingsRead, ListSettingsUpdate
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
deals_app = typer.Typer(
    help="Manufacturers' and the store's deals: import, list, show, add, set, retire, and "
    "the funding statement.",
    no_args_is_help=True,
)
DealId = Annotated[
    int, typer.Argument(help="the deal's id (see regulars deals list)", min=1, max=MAX_ID)
]
CycleId = Annotated[
    int, typer.Argument(help="the cycle's id (see regulars lists cycles)", min=1, max=MAX_ID)
]

# The deal's terms as options: text, read by the schema as the page's form is.
Title = Annotated[str | None, typer.Option(help="the deal's name on lists and pages")]
Target = Annotated[
    str | None,
    typer.Option(help="what it is on: product:SKU, brand:NAME or category:NAME"),
]
Kind = Annotated[str | None, typer.Option(help="percent, amount (off each), price (each) or bxgy")]
Value = Annotated[
    str | None, typer.Option(help="the percentage, the amount off or the price, e.g. 20")
]
Buy = Annotated[str | None, typer.Option("--buy", help="bxgy: units bought")]
Get = Annotated[str | None, typer.Option("--get", help="bxgy: units then free")]
ValidFrom = Annotated[
    str | None,
    typer.Option(
        "--valid-from",
        help="a day (YYYY-MM-DD, from its start in the chain's time zone) or a time with "
        "its zone, e.g. 2026-11-01T08:00+08:00",
    ),
]
ValidTo = Annotated[
    str | None,
    typer.Option("--valid-to", help="when it ends (not included): a day or a time with its zone"),
]
Maker = Annotated[str | None, typer.Option(help="manufacturer code (empty: none)")]
MakerShare = Annotated[
    str | None, typer.Option("--manufacturer-share", help="% of the cost the manufacturer pays")
]
StoreShare = Annotated[
    str | None, typer.Option("--store-share", help="% the store pays; the two add up to 100")
]
Budget = Annotated[str | None, typer.Option(help="the most the deal may cost (empty: no limit)")]
Limit = Annotated[str | None, typer.Option(help="times one member may have it (empty: no limit)")]
Active = Annotated[bool | None, typer.Option("--active/--inactive", help="switch it on or off")]
# Terms a deal may go without: an empty option clears them, as an emptied form field does.
CLEARABLE = frozenset({"manufacturer_code", "buy_qty", "get_qty", "budget", "limit_per_member"})
# The page's names of the cycle's settings; the command shows them next to the field names
# ``--set`` takes.
SETTING_LABELS = {
    "window_weeks": _("Spend window (weeks)"),
    "threshold": _("Weekly spend threshold"),
    "cycle_days": _("Cycle length (days)"),
    "list_length": _("Items per list"),
    "max_per_category": _("Items per category at most"),
    "control_share": _("Control group share"),
    "base_budget": _("Base discount budget per list"),
    "tier_factors": _("Budget factor per value tier"),
    "store_discount": _("Store discount % without a deal"),
    "notify": _("Notify members"),
}


@deals_app.command("import")
def deals_import(file: Path) -> None:
    """Load deals from a CSV file; good rows load, bad rows are reported by line."""
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        fail(InvalidInput(_("the file is not UTF-8 text"), field="file"), code=2)
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


def _maker_code(uow: UnitOfWork, deal: Deal) -> str | None:
    """The code of the manufacturer funding the deal: the deal row keeps only its id."""
    if deal.manufacturer_id is None:
        return None
    maker = uow.session.get(Manufacturer, deal.manufacturer_id)
    return maker.code if maker else None


def _print_deal(deal: Deal, maker: str | None) -> None:
    """One deal's terms, dates, funding and state as a two-column table."""
    locale = get_settings().default_locale
    facts = Table(show_header=False, title=f"{deal.code} {deal.title}")
    rows = [
        ("id", str(deal.id)),
        (say(_("Code")), deal.code),
        (say(_("Title")), deal.title),
        (say(_("On")), f"{deal.target}: {deal.target_value}"),
        (
            say(_("Offer")),
            pdf.terms_text(deal.kind, str(deal.value), deal.buy_qty, deal.get_qty, locale),
        ),
        (say(_("Valid from")), local_time(deal.valid_from)),
        (say(_("Valid to")), local_time(deal.valid_to)),
        (say(_("Manufacturer code")), maker or ""),
        (say(_("Manufacturer share %")), str(deal.manufacturer_share)),
        (say(_("Store share %")), str(deal.store_share)),
        (say(_("Spent / budget")), f"{deal.spent} / {'' if deal.budget is None else deal.budget}"),
        (
            say(_("Limit per member")),
            "" if deal.limit_per_member is None else str(deal.limit_per_member),
        ),
        (say(_("Active")), say(_("yes")) if deal.active else say(_("no"))),
        (say(_("Source")), deal.source),
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
        _print_deal(deal, _maker_code(uow, deal))


def _moment(text: str) -> datetime | str:
    """A day as the instant it starts in the chain's time zone; any other text is left
    for the schema to read (a time must then carry its zone, as on the page)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return text
    return local_day(day, get_settings().timezone)[0]


def _terms(
    *, target: str | None, valid_from: str | None, valid_to: str | None, **options: str | None
) -> dict[str, Any]:
    """The options given, as schema input: a form's fields, with ``--target kind:value``
    split into its two fields and a day read as its first moment.

    An option left out is left out here too, so ``set`` keeps that term; an empty one
    clears a term a deal may go without (``--budget ""``: no budget).
    """
    terms: dict[str, Any] = {}
    for name, text in options.items():
        if text is not None:
            terms[name] = None if name in CLEARABLE and not text.strip() else text
    if target is not None:
        kind, _colon, value = target.partition(":")
        terms.update(target=kind.strip(), target_value=value.strip())
    if valid_from is not None:
        terms["valid_from"] = _moment(valid_from)
    if valid_to is not None:
        terms["valid_to"] = _moment(valid_to)
    return terms


@deals_app.command("add")
def deals_add(
    code: Annotated[str | None, typer.Option(help="a new code: letters, digits, _ . -")] = None,
    title: Title = None,
    target: Target = None,
    kind: Kind = None,
    value: Value = None,
    buy: Buy = None,
    get: Get = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
    manufacturer: Maker = None,
    manufacturer_share: MakerShare = None,
    store_share: StoreShare = None,
    budget: Budget = None,
    limit: Limit = None,
    active: Active = None,
) -> None:
    """Create a deal, as the deal page does (audited like it); without dates it runs from
    now for 28 days, the page's proposal. A refused value names its field."""
    start = utcnow().replace(microsecond=0)
    terms = {
        "valid_from": start,
        "valid_to": start + timedelta(days=28),
        **_terms(
            code=code,
            title=title,
            target=target,
            kind=kind,
            value=value,
            buy_qty=buy,
            get_qty=get,
            valid_from=valid_from,
            valid_to=valid_to,
            manufacturer_code=manufacturer,
            manufacturer_share=manufacturer_share,
            store_share=store_share,
            budget=budget,
            limit_per_member=limit,
        ),
    }
    if active is not None:
        terms["active"] = active
    with context.new_uow() as uow:
        try:
            deal = service.deal_create(uow, data=DealCreate.model_validate(terms), source="cli")
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(uow, actor="cli", action="deal_create", page="cli", detail={"code": deal.code})
        uow.commit()
        console.print(say(_("Deal {code} added (id {id})."), code=deal.code, id=deal.id))


@deals_app.command("set")
def deals_set(
    deal_id: DealId,
    title: Title = None,
    target: Target = None,
    kind: Kind = None,
    value: Value = None,
    buy: Buy = None,
    get: Get = None,
    valid_from: ValidFrom = None,
    valid_to: ValidTo = None,
    manufacturer: Maker = None,
    manufacturer_share: MakerShare = None,
    store_share: StoreShare = None,
    budget: Budget = None,
    limit: Limit = None,
    active: Active = None,
) -> None:
    """Change the terms given; the others stay as they are, and the deal stays on or off
    unless --active or --inactive says otherwise (a retired deal must not come back
    by a change of its title). Audited like the deal page's save."""
    given = _terms(
        title=title,
        target=target,
        kind=kind,
        value=value,
        buy_qty=buy,
        get_qty=get,
        valid_from=valid_from,
        valid_to=valid_to,
        manufacturer_code=manufacturer,
        manufacturer_share=manufacturer_share,
        store_share=store_share,
        budget=budget,
        limit_per_member=limit,
    )
    with context.new_uow() as uow:
        try:
            deal = service.deal_get(uow, deal_id=deal_id)
            # The update replaces every term (as the page's form sends them all): start
            # from the deal's own, with its manufacturer by code as the schema names it.
            terms: dict[str, Any] = {
                name: getattr(deal, name)
                for name in DealUpdate.model_fields
                if name not in ("manufacturer_code", "active")
            }
            terms["manufacturer_code"] = _maker_code(uow, deal)
            terms.update(given)
            if active is not None:
                terms["active"] = active
            deal = service.deal_update(uow, deal_id=deal_id, data=DealUpdate.model_validate(terms))
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(uow, actor="cli", action="deal_update", page="cli", detail={"code": deal.code})
        uow.commit()
        _print_deal(deal, _maker_code(uow, deal))


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
        console.print(say(_("Deal {code} is retired."), code=deal.code))


@deals_app.command("statement")
def deals_statement(
    since: Annotated[
        datetime,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], help="the first day (YYYY-MM-DD, chain's time zone)"
        ),
    ],
    until: Annotated[
        datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="the day the period ends (not included)"),
    ],
    manufacturer: Annotated[
        str | None, typer.Option(help="only this manufacturer's deals (its code)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="write FILE.csv or FILE.pdf instead of the table")
    ] = None,
) -> None:
    """The funding statement: what each deal's list redemptions cost over the period and
    who pays it, per manufacturer; on screen, or the CSV or PDF the statement page gives
    (what is billed to the manufacturers)."""
    kind = out.suffix.lower() if out is not None else ""
    if out is not None and kind not in (".csv", ".pdf"):
        fail(InvalidInput(_("the file must end in .csv or .pdf"), field="out"))
    try:  # before their local start is looked for: near year 1 or 9999 there is none
        queries.period_check(since.date(), field="start")
        queries.period_check(until.date(), field="end")
    except DomainError as exc:
        fail(exc)
    zone = get_settings().timezone
    start = local_day(since.date(), zone)[0]
    end = local_day(until.date(), zone)[0]
    with context.new_uow() as uow:
        try:
            lines = queries.statement(
                uow.session, start=start, end=end, manufacturer_code=manufacturer or None
            )
        except DomainError as exc:
            fail(exc)
    if out is not None:
        if kind == ".csv":
            out.write_text(pdf.statement_csv(lines), encoding="utf-8", newline="")
        else:
            locale = get_settings().default_locale
            out.write_bytes(pdf.statement_pdf(lines, start=start, end=end, locale=locale))
        console.print(say(_("Statement written to {path}."), path=str(out)))
        return
    table = Table(
        fold(say(_("Manufacturer"))),
        fold(say(_("Deal"))),
        fold(say(_("Title"))),
        fold(say(_("Redemptions"))),
        fold(say(_("Discount given"))),
        fold(say(_("Manufacturer pays"))),
        fold(say(_("Store pays"))),
        title=say(_("Funding statement")),
        caption=say(_("{start} to {end}"), start=local_time(start), end=local_time(end)),
    )
    for line in lines:
        table.add_row(
            line.manufacturer_code or say(_("store")),
            line.deal_code or "—",
            line.deal_title,
            str(line.redemptions),
            str(line.amount),
            str(line.manufacturer_amount),
            str(line.store_amount),
        )
    if lines:
        table.add_row(
            say(_("Total")),
            "",
            "",
            str(sum(line.redemptions for line in lines)),
            str(sum(line.amount for line in lines)),
            str(sum(line.manufacturer_amount for line in lines)),
            str(sum(line.store_amount for line in lines)),
        )
    console.print(table)
    if not lines:
        console.print(say(_("No list redemptions in this period.")))


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


def _lists_all(member: int, locale: str) -> None:
    """Every list of the member (and control entry), newest first, as the API gives them:
    its cycle, dates, items and how many were redeemed. Audited as the list page is
    (``list_view``): a list is drawn from the member's own purchases."""
    with context.new_uow() as uow:
        try:
            member_get(uow.session, member_id=member)
        except DomainError as exc:
            fail(exc)
        rows = queries.member_lists(uow.session, member_id=member)
        views = [queries.list_view(uow, list_id=row.id, locale=locale) for row in rows]
        starts = {
            cycle_id: queries.cycle_get(uow.session, cycle_id=cycle_id).starts_on
            for cycle_id in {v.cycle_id for v in views}
        }
        audit_record(
            uow,
            actor="cli",
            action="list_view",
            member_id=member,
            page="cli",
            detail={"list_ids": [v.id for v in views]},
        )
        uow.commit()
    table = Table(
        Column("id", no_wrap=True),
        Column(say(_("Starts")), no_wrap=True),
        Column(say(_("Valid")), no_wrap=True),
        fold(say(_("Code"))),
        fold(say(_("Items"))),
        fold(say(_("Items redeemed"))),
    )
    for v in views:
        listed = v.group == "list"
        redeemed = sum(1 for i in v.items if i.status == "redeemed")
        table.add_row(
            str(v.id),
            str(starts.get(v.cycle_id, "")),
            f"{local_time(v.valid_from, '%Y-%m-%d')} – {local_time(v.valid_to, '%Y-%m-%d')}",
            v.code or "",
            ", ".join(i.product_name or str(i.product_id) for i in v.items)
            if listed
            else say(_("control")),
            f"{redeemed} / {len(v.items)}" if listed else "",
        )
    console.print(table)
    if not views:
        console.print(say(_("No personal shopping list yet.")))


def lists_show(
    member: Annotated[int, typer.Option(help="member id")],
    lang: Annotated[str | None, typer.Option(help="en or zh_CN")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="every list of the member, not only the current one")
    ] = False,
) -> None:
    """A member's current list with each line's reason; ``--all``: every list, newest
    first, with its cycle, dates, items and redemptions."""
    locale = lang or get_settings().default_locale
    if every:
        _lists_all(member, locale)
        return
    with context.new_uow() as uow:
        row = queries.member_current_list(uow.session, member_id=member, at=utcnow())
        if row is None:
            err.print("no current list")
            raise typer.Exit(1)
        view = queries.list_view(uow, list_id=row.id, locale=locale)
        # As on the list page and the API: a list is drawn from the member's purchases.
        audit_record(
            uow,
            actor="cli",
            action="list_view",
            member_id=member,
            page="cli",
            detail={"list_id": view.id},
        )
        uow.commit()
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
        _view, content = pdf.list_document(
            uow,
            list_id=row.id,
            lang=lang,
            fallback=get_settings().default_locale,
            actor="cli",
            page="cli",
        )
        out.write_bytes(content)
        uow.commit()
    console.print(f"wrote {out}")


def _setting_value(name: str, text: str) -> Any:
    """What ``--set name=text`` gives the schema: ``tier_factors`` is a JSON object
    (``{"gold": 2}``); text that is not JSON goes as it is, for the schema to refuse by
    name."""
    if name != "tier_factors":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def lists_settings(
    changes: Annotated[
        list[str] | None,
        typer.Option("--set", help="FIELD=VALUE to change, e.g. cycle_days=14 (repeat for more)"),
    ] = None,
) -> None:
    """The cycle's settings; with --set, change those fields first (the others keep
    their value), audited as the settings form on the cycles page is."""
    typed: dict[str, str] = {}
    for change in changes or []:
        name, equals, text = change.partition("=")
        if not equals or not name.strip():
            fail(InvalidInput(_("write FIELD=VALUE, e.g. cycle_days=14"), field="set"))
        typed[name.strip()] = text.strip()
    with context.new_uow() as uow:
        try:
            if typed:
                data = ListSettingsUpdate.model_validate(
                    {name: _setting_value(name, text) for name, text in typed.items()}
                )
                found = service.settings_update(uow, data=data)
                audit_record(
                    uow,
                    actor="cli",
                    action="list_settings_update",
                    page="cli",
                    detail=dict(typed),
                )
            else:
                found = service.settings_get(uow)
        except (DomainError, ValidationError) as exc:
            fail(exc)
        read = ListSettingsRead.model_validate(found)
        uow.commit()  # keeps the defaults made on first use, as the page does
    table = Table(
        Column(say(_("Field")), no_wrap=True), fold(say(_("Setting"))), fold(say(_("Value")))
    )
    for name, value in read.model_dump(mode="json").items():
        if isinstance(value, bool):
            shown = say(_("yes")) if value else say(_("no"))
        elif isinstance(value, dict):
            shown = json.dumps(value, ensure_ascii=False)
        else:
            shown = str(value)
        table.add_row(name, say(SETTING_LABELS.get(name, name)), shown)
    console.print(table)


def lists_cycles() -> None:
    """The cycles, newest first, with their counts and redemption, as the cycles page
    shows them; the id is the one lists results takes."""
    # The id and the day are what one types or reads next: never folded.
    table = Table(
        Column("id", no_wrap=True),
        Column(say(_("Starts")), no_wrap=True),
        fold(say(_("Eligible"))),
        fold(say(_("Lists"))),
        fold(say(_("Control"))),
        fold(say(_("Items redeemed"))),
        fold(say(_("Lists used"))),
        fold(say(_("Discount given"))),
        fold(say(_("Status"))),
    )
    with context.new_uow() as uow:
        cycles = queries.cycles_list(uow.session)
        for c in cycles:
            red = queries.cycle_redemption(uow.session, cycle_id=c.id)
            table.add_row(
                str(c.id),
                c.starts_on.isoformat(),
                str(c.outcome.get("eligible", 0)),
                str(c.outcome.get("lists", 0)),
                str(c.outcome.get("control", 0)),
                f"{red.redeemed_items} / {red.items} ({red.item_rate * 100:.1f}%)",
                f"{red.list_rate * 100:.1f}%",
                str(red.discount),
                # "open" and "measured" are catalogue messages (the pages' code words).
                say(c.status),
            )
    console.print(table)
    if not cycles:
        console.print(say(_("No cycle yet. Generate one with: regulars lists generate")))


def lists_results(cycle_id: CycleId) -> None:
    """A cycle's results as its page gives them: how much of the lists was redeemed, and
    the incremental sales of list members over the control group with Welch's 95 %
    interval, once the cycle is measured."""
    with context.new_uow() as uow:
        try:
            cycle = queries.cycle_get(uow.session, cycle_id=cycle_id)
        except DomainError as exc:
            fail(exc)
        found = results.cycle_results(uow.session, cycle_id=cycle_id)
        title = say(_("Cycle from {start}"), start=cycle.starts_on)
        span = f"{local_time(cycle.valid_from)} – {local_time(cycle.valid_to)}"
    red = found.redemption
    facts = Table(show_header=False, title=title, caption=span)
    facts.add_row(say(_("Lists")), str(red.lists))
    facts.add_row(
        say(_("Items redeemed")),
        f"{red.redeemed_items} / {red.items} ({red.item_rate * 100:.1f}%)",
    )
    facts.add_row(
        say(_("Lists used")), f"{red.lists_redeeming} / {red.lists} ({red.list_rate * 100:.1f}%)"
    )
    facts.add_row(say(_("Discount given")), str(red.discount))
    console.print(facts)
    console.print(say(_("Incremental sales")))
    up = found.uplift
    if not found.measured:
        console.print(say(_("Measured once the cycle is over.")))
    elif up is None:
        console.print(say(_("Too few members in the list or control group to estimate.")))
    else:
        console.print(
            say(
                _(
                    "List members changed their spend by {d} more per member than the control"
                    " group ({conf}% interval {low} to {high}; {n} with lists, {m} in control)."
                ),
                d=f"{up.difference:.2f}",
                conf=int(up.confidence * 100),
                low=f"{up.low:.2f}",
                high=f"{up.high:.2f}",
                n=up.n_treated,
                m=up.n_control,
            )
        )


def attach_list_commands(app: typer.Typer) -> None:
    """Add ``generate``, ``show``, ``print``, ``settings``, ``cycles`` and ``results`` to the
    ``lists`` sub-app."""
    app.command("generate")(lists_generate)
    app.command("show")(lists_show)
    app.command("print")(lists_print)
    app.command("settings")(lists_settings)
    app.command("cycles")(lists_cycles)
    app.command("results")(lists_results)
