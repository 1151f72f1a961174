"""Staff pages of the offers domain: deals (list, create, edit, retire, import), cycles and
their results, one member's list with reasons (and its printable PDF), the funding
statement; the profile panel."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from regulars.catalog.models import Product
from regulars.core.errors import DomainError, Forbidden, InvalidInput
from regulars.core.i18n import _
from regulars.core.reasons import invalid_input
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.members.extensions import Panel
from regulars.offers import pdf, queries, results, service
from regulars.offers.models import ListItem, PersonalList, Redemption
from regulars.offers.schemas import DealCreate, DealRead, DealUpdate, ListSettingsUpdate
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("offers.read"))]
Manager = Annotated[PageContext, Depends(page_require("offers.manage"))]
DEAL_FIELDS = (
    "code",
    "title",
    "manufacturer_code",
    "target",
    "target_value",
    "kind",
    "value",
    "buy_qty",
    "get_qty",
    "valid_from",
    "valid_to",
    "manufacturer_share",
    "store_share",
    "budget",
    "limit_per_member",
)
# Code words shown through ``label``: marked here so the catalogue carries their names.
WORDS = {
    "product": _("product"),
    "brand": _("brand"),
    "category": _("category"),
    "percent": _("percent off"),
    "amount": _("amount off"),
    "price": _("price point"),
    "bxgy": _("buy X get Y"),
    "list": _("list"),
    "control": _("control"),
    "open": _("open"),
    "measured": _("measured"),
    "redeemed": _("redeemed"),
}
SETTINGS_FIELDS = (
    "window_weeks",
    "threshold",
    "cycle_days",
    "list_length",
    "max_per_category",
    "control_share",
    "base_budget",
    "store_discount",
)


def _problem(exc: Exception) -> DomainError:
    """A form's error as a domain error naming the field."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, ValidationError):
        return invalid_input(exc)
    return InvalidInput(_("{where}: {reason}"), where="-", reason=str(exc))


def _page(
    request: Request,
    ctx: PageContext,
    template: str,
    data: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A staff page of this domain, with the code words' names at hand."""
    return page(request, ctx, template, {**data, "words": WORDS}, status_code=status_code)


class ListsExtension:
    """The current personal list on the profile (and the member page), the earlier ones for
    staff; every list in an export."""

    key = "lists"

    def panel(
        self, uow: UnitOfWork, *, member_id: int, store_ids: Collection[int] | None = None
    ) -> Panel:
        """The member's list valid now, its items and reasons; the last few earlier lists
        (the template shows them only to staff who may open lists: each links to its page)."""
        now = utcnow()
        row = queries.member_current_list(uow.session, member_id=member_id, at=now)
        items: list[ListItem] = []
        names: dict[int, Product] = {}
        if row is not None:
            items = list(
                uow.session.scalars(
                    select(ListItem).where(ListItem.list_id == row.id).order_by(ListItem.position)
                )
            )
            names = {
                p.id: p
                for p in uow.session.scalars(
                    select(Product).where(Product.id.in_([i.product_id for i in items]))
                )
            }
        return Panel(
            key=self.key,
            title=_("Personal shopping list"),
            template="offers/list_panel.html",
            data={
                "list": row,
                "items": items,
                "products": names,
                "earlier": queries.earlier_lists(
                    uow.session, member_id=member_id, at=now, current=row
                ),
                "member_id": member_id,
                "words": WORDS,
            },
        )

    def export(self, uow: UnitOfWork, *, member_id: int) -> list[dict[str, Any]]:
        """Every list of the member with its items, reasons and redemptions."""
        out: list[dict[str, Any]] = []
        for row in uow.session.scalars(
            select(PersonalList)
            .where(PersonalList.member_id == member_id)
            .order_by(PersonalList.id)
        ):
            view = queries.list_view(uow, list_id=row.id, locale="zh_CN")
            reds = uow.session.scalars(select(Redemption).where(Redemption.list_id == row.id))
            out.append(
                {
                    **view.model_dump(mode="json"),
                    "redemptions": [
                        {
                            "item_id": r.item_id,
                            "receipt_id": r.receipt_id,
                            "line_no": r.line_no,
                            "amount": str(r.amount),
                            "redeemed_at": r.redeemed_at.isoformat(),
                        }
                        for r in reds
                    ],
                }
            )
        return out


def _deals_page(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    *,
    report: service.ImportReport | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HTMLResponse:
    deals = queries.deals_list(uow.session, limit=500)
    data = {"deals": deals, "report": report, "error": error}
    return _page(request, ctx, "offers/deals.html", data, status_code=status)


@router.get("/deals", response_class=HTMLResponse)
def deals_page(request: Request, uow: UowDep, ctx: Reader) -> HTMLResponse:
    """The deals: terms, dates, funding, budget spent."""
    return _deals_page(request, uow, ctx)


def _form_page(
    request: Request,
    ctx: PageContext,
    *,
    values: dict[str, Any],
    deal_id: int | None,
    error: DomainError | None = None,
    status: int = 200,
) -> HTMLResponse:
    data = {"v": values, "deal_id": deal_id, "error": error}
    return _page(request, ctx, "offers/deal_form.html", data, status_code=status)


@router.get("/deals/new", response_class=HTMLResponse)
def deal_new(request: Request, ctx: Manager) -> HTMLResponse:
    """The form for a new deal."""
    start = utcnow().replace(microsecond=0)
    values = {
        "kind": "percent",
        "target": "product",
        "manufacturer_share": "0",
        "store_share": "100",
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(days=28)).isoformat(),
    }
    return _form_page(request, ctx, values=values, deal_id=None)


@router.get("/deals/{deal_id}", response_class=HTMLResponse)
def deal_edit(request: Request, uow: UowDep, ctx: Manager, deal_id: IdPath) -> HTMLResponse:
    """The form to change a deal's terms."""
    deal = service.deal_get(uow, deal_id=deal_id)
    values = DealRead.model_validate(deal).model_dump(mode="json")
    values["valid_from"] = deal.valid_from.isoformat()
    values["valid_to"] = deal.valid_to.isoformat()
    return _form_page(request, ctx, values=values, deal_id=deal_id)


async def _form_values(request: Request) -> dict[str, Any]:
    """The deal form's filled-in fields, and ``active`` only when the form showed its box.

    An unticked checkbox sends nothing, so the form sends ``active_shown`` with it: a post
    without that mark (a form without the box) leaves ``active`` out and the deal keeps its
    state, instead of a missing box reading as "on" or "off".
    """
    form = await request.form()
    values: dict[str, Any] = {
        f: str(form.get(f, "")).strip() for f in DEAL_FIELDS if str(form.get(f, "")).strip()
    }
    if form.get("active_shown"):
        values["active"] = form.get("active") == "on"
    return values


@router.post("/deals", response_class=HTMLResponse, response_model=None)
async def deal_create_submit(request: Request, uow: UowDep, ctx: Csrf) -> Response:
    """Create a deal; errors are shown on the form with the values kept."""
    if not ctx.can("offers.manage"):
        raise Forbidden(_("your role may not do this"))
    values = await _form_values(request)
    try:
        deal = service.deal_create(uow, data=DealCreate.model_validate(values))
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        return _form_page(
            request, ctx, values=values, deal_id=None, error=_problem(exc), status=422
        )
    audit_record(uow, actor=ctx.account, action="deal_create", detail={"code": deal.code})
    uow.commit()
    return RedirectResponse("/deals", status_code=303)


@router.post("/deals/{deal_id}", response_class=HTMLResponse, response_model=None)
async def deal_update_submit(request: Request, uow: UowDep, ctx: Csrf, deal_id: IdPath) -> Response:
    """Change a deal's terms; errors are shown on the form."""
    if not ctx.can("offers.manage"):
        raise Forbidden(_("your role may not do this"))
    values = await _form_values(request)
    values.pop("code", None)
    try:
        deal = service.deal_update(uow, deal_id=deal_id, data=DealUpdate.model_validate(values))
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        return _form_page(
            request, ctx, values=values, deal_id=deal_id, error=_problem(exc), status=422
        )
    audit_record(uow, actor=ctx.account, action="deal_update", detail={"code": deal.code})
    uow.commit()
    return RedirectResponse("/deals", status_code=303)


@router.post("/deals/{deal_id}/retire", response_model=None)
def deal_retire_submit(uow: UowDep, ctx: Csrf, deal_id: IdPath) -> Response:
    """Retire a deal from its page, as ``DELETE /api/v1/deals/{id}`` does: switched off and
    kept, since list items and redemptions name it."""
    if not ctx.can("offers.manage"):
        raise Forbidden(_("your role may not do this"))
    deal = service.deal_retire(uow, deal_id=deal_id)
    audit_record(uow, actor=ctx.account, action="deal_retire", detail={"code": deal.code})
    uow.commit()
    return RedirectResponse("/deals", status_code=303)


@router.post("/deals-import", response_class=HTMLResponse)
def deals_import_submit(
    request: Request, uow: UowDep, ctx: Csrf, file: Annotated[UploadFile, File()]
) -> HTMLResponse:
    """Load deals from an uploaded CSV file and show the line-by-line report."""
    if not ctx.can("offers.manage"):
        raise Forbidden(_("your role may not do this"))
    try:
        text = file.file.read(5_000_001).decode("utf-8")
        report = service.deals_import(uow, text=text)
    except (DomainError, UnicodeDecodeError) as exc:
        uow.rollback()
        return _deals_page(request, uow, ctx, error=_problem(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="deals_import",
        detail={"loaded": report.loaded, "errors": len(report.errors)},
    )
    uow.commit()
    return _deals_page(request, uow, ctx, report=report)


def _cycles_page(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    *,
    error: DomainError | None = None,
    status: int = 200,
) -> HTMLResponse:
    cycles = queries.cycles_list(uow.session)
    rates = {c.id: queries.cycle_redemption(uow.session, cycle_id=c.id) for c in cycles}
    data = {"cycles": cycles, "rates": rates, "s": service.settings_get(uow), "error": error}
    return _page(request, ctx, "offers/cycles.html", data, status_code=status)


@router.get("/lists", response_class=HTMLResponse)
def cycles_page(request: Request, uow: UowDep, ctx: Reader) -> HTMLResponse:
    """The cycles with their redemption rates, and the cycle's settings."""
    response = _cycles_page(request, uow, ctx)
    uow.commit()  # keeps the settings' defaults made on first use
    return response


@router.post("/lists/settings", response_class=HTMLResponse, response_model=None)
async def settings_submit(request: Request, uow: UowDep, ctx: Csrf) -> Response:
    """Save the cycle's settings."""
    if not ctx.can("offers.manage"):
        raise Forbidden(_("your role may not do this"))
    form = await request.form()
    values: dict[str, Any] = {
        f: str(form.get(f, "")).strip() for f in SETTINGS_FIELDS if str(form.get(f, "")).strip()
    }
    values["notify"] = form.get("notify") == "on"
    try:
        service.settings_update(uow, data=ListSettingsUpdate.model_validate(values))
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        return _cycles_page(request, uow, ctx, error=_problem(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="list_settings_update",
        detail={k: str(v) for k, v in values.items()},
    )
    uow.commit()
    return RedirectResponse("/lists", status_code=303)


@router.get("/lists/cycles/{cycle_id}", response_class=HTMLResponse)
def cycle_page(request: Request, uow: UowDep, ctx: Reader, cycle_id: IdPath) -> HTMLResponse:
    """A cycle's results: redemption, incremental sales against control, its lists."""
    cycle = queries.cycle_get(uow.session, cycle_id=cycle_id)
    found = results.cycle_results(uow.session, cycle_id=cycle_id)
    rows = list(
        uow.session.scalars(
            select(PersonalList)
            .where(PersonalList.cycle_id == cycle_id)
            .order_by(PersonalList.id)
            .limit(200)
        )
    )
    data = {"c": cycle, "r": found, "rows": rows}
    return _page(request, ctx, "offers/cycle.html", data)


@router.get("/lists/{list_id}", response_model=None)
def list_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    list_id: IdPath,
    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",
) -> Response:
    """One member's list with each line's reason; ``format=pdf``: the sheet to print.

    The printed sheet carries the member's name and member code, so handing it out is a
    read of the member: it goes to the audit trail like a profile view (who, which member,
    which page). Who may print is who may see the list.
    """
    if format == "pdf":
        view, content = pdf.list_document(
            uow,
            list_id=list_id,
            fallback=ctx.locale,
            actor=ctx.account,
            page=str(request.url.path),
        )
        uow.commit()
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="list-{view.code}.pdf"'},
        )
    view = queries.list_view(uow, list_id=list_id, locale=ctx.locale)
    # A list is drawn from the member's own purchases: seeing it is a read of the member.
    audit_record(
        uow,
        actor=ctx.account,
        action="list_view",
        member_id=view.member_id,
        page=str(request.url.path),
        detail={"list_id": view.id},
    )
    uow.commit()
    return _page(request, ctx, "offers/list.html", {"l": view})


@router.get("/offers/statement", response_model=None)
def statement_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    start: Annotated[str | None, Query(max_length=40)] = None,
    end: Annotated[str | None, Query(max_length=40)] = None,
    manufacturer: Annotated[str | None, Query(max_length=32)] = None,
    format: Annotated[str, Query(pattern="^(html|csv|pdf)$")] = "html",
) -> Response:
    """The funding statement per manufacturer and period, as a page, CSV or PDF."""
    error: DomainError | None = None
    until = utcnow()
    since = until - timedelta(days=30)
    lines: list[queries.StatementLine] = []
    try:
        since = datetime.fromisoformat(start) if start else since
        until = datetime.fromisoformat(end) if end else until
        lines = queries.statement(
            uow.session, start=since, end=until, manufacturer_code=manufacturer or None
        )
    except ValueError as exc:
        error = _problem(exc)
    except DomainError as exc:
        error = exc
    if error is None and format == "csv":
        return Response(
            pdf.statement_csv(lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="statement.csv"'},
        )
    if error is None and format == "pdf":
        return Response(
            pdf.statement_pdf(lines, start=since, end=until, locale=ctx.locale),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="statement.pdf"'},
        )
    data = {
        "lines": lines,
        "start": since.isoformat(),
        "end": until.isoformat(),
        "manufacturer": manufacturer or "",
        "error": error,
    }
    return _page(request, ctx, "offers/statement.html", data, status_code=422 if error else 200)
