"""Staff API of the offers domain: deals, the cycle's settings, cycles, lists, results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, UploadFile

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.web import IdPath, UowDep, get_locale
from regulars.offers import pdf, queries, results, service
from regulars.offers.schemas import (
    CycleRead,
    DealCreate,
    DealRead,
    DealUpdate,
    ListRead,
    ListSettingsRead,
    ListSettingsUpdate,
)
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["offers"])
Reader = Annotated[StaffAccount, Depends(require("offers.read"))]
Manager = Annotated[StaffAccount, Depends(require("offers.manage"))]
Locale = Annotated[str, Depends(get_locale)]
MAX_UPLOAD = 5_000_000


@router.get("/deals", response_model=list[DealRead])
def get_deals(
    uow: UowDep,
    _who: Reader,
    active: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DealRead]:
    """Deals, newest first (``active=true``: only those switched on)."""
    return [
        DealRead.model_validate(d)
        for d in queries.deals_list(uow.session, active_only=active, limit=limit, offset=offset)
    ]


@router.post("/deals", response_model=DealRead, status_code=201)
def post_deal(uow: UowDep, data: DealCreate, who: Manager) -> DealRead:
    """Create a deal."""
    deal = service.deal_create(uow, data=data)
    audit_record(uow, actor=who, action="deal_create", detail={"code": deal.code})
    read = DealRead.model_validate(deal)
    uow.commit()
    return read


@router.get("/deals/{deal_id}", response_model=DealRead)
def get_deal(uow: UowDep, deal_id: IdPath, _who: Reader) -> DealRead:
    """One deal."""
    return DealRead.model_validate(service.deal_get(uow, deal_id=deal_id))


@router.put("/deals/{deal_id}", response_model=DealRead)
def put_deal(uow: UowDep, deal_id: IdPath, data: DealUpdate, who: Manager) -> DealRead:
    """Replace a deal's terms."""
    deal = service.deal_update(uow, deal_id=deal_id, data=data)
    audit_record(uow, actor=who, action="deal_update", detail={"code": deal.code})
    read = DealRead.model_validate(deal)
    uow.commit()
    return read


@router.delete("/deals/{deal_id}", response_model=DealRead)
def delete_deal(uow: UowDep, deal_id: IdPath, who: Manager) -> DealRead:
    """Retire a deal (kept for the lists and redemptions that name it)."""
    deal = service.deal_retire(uow, deal_id=deal_id)
    audit_record(uow, actor=who, action="deal_retire", detail={"code": deal.code})
    read = DealRead.model_validate(deal)
    uow.commit()
    return read


@router.post("/deals/import")
def post_deals_import(uow: UowDep, file: UploadFile, who: Manager) -> dict[str, Any]:
    """Load deals from a CSV file; every good row loads, each bad row is reported."""
    raw = file.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise InvalidInput(_("the file is larger than {size} bytes"), field="file", size=MAX_UPLOAD)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(_("the file is not UTF-8 text"), field="file") from exc
    report = service.deals_import(uow, text=text)
    audit_record(
        uow,
        actor=who,
        action="deals_import",
        detail={"loaded": report.loaded, "updated": report.updated, "errors": len(report.errors)},
    )
    uow.commit()
    return {
        "loaded": report.loaded,
        "updated": report.updated,
        "errors": [{"line": line, "reason": reason} for line, reason in report.errors],
    }


@router.get("/lists/settings", response_model=ListSettingsRead)
def get_list_settings(uow: UowDep, _who: Reader) -> ListSettingsRead:
    """The list cycle's settings."""
    read = ListSettingsRead.model_validate(service.settings_get(uow))
    uow.commit()  # keeps the defaults made on first use
    return read


@router.put("/lists/settings", response_model=ListSettingsRead)
def put_list_settings(uow: UowDep, data: ListSettingsUpdate, who: Manager) -> ListSettingsRead:
    """Change the list cycle's settings (fields left out keep their value)."""
    found = service.settings_update(uow, data=data)
    audit_record(
        uow,
        actor=who,
        action="list_settings_update",
        detail=data.model_dump(mode="json", exclude_unset=True),
    )
    read = ListSettingsRead.model_validate(found)
    uow.commit()
    return read


@router.get("/lists/cycles", response_model=list[CycleRead])
def get_cycles(uow: UowDep, _who: Reader) -> list[CycleRead]:
    """The cycles, newest first."""
    return [CycleRead.model_validate(c) for c in queries.cycles_list(uow.session)]


@router.get("/lists/cycles/{cycle_id}/results")
def get_cycle_results(uow: UowDep, cycle_id: IdPath, _who: Reader) -> dict[str, Any]:
    """Redemption rates and incremental sales over the control group (Welch 95 % interval)."""
    queries.cycle_get(uow.session, cycle_id=cycle_id)
    found = results.cycle_results(uow.session, cycle_id=cycle_id)
    red = found.redemption
    up = found.uplift
    return {
        "cycle_id": cycle_id,
        "lists": red.lists,
        "items": red.items,
        "redeemed_items": red.redeemed_items,
        "item_rate": round(red.item_rate, 4),
        "list_rate": round(red.list_rate, 4),
        "discount": str(red.discount),
        "measured": found.measured,
        "uplift": None
        if up is None
        else {
            "per_member": round(up.difference, 2),
            "low": round(up.low, 2),
            "high": round(up.high, 2),
            "confidence": up.confidence,
            "n_list": up.n_treated,
            "n_control": up.n_control,
        },
    }


@router.get("/lists/{list_id}", response_model=ListRead)
def get_list(
    request: Request, uow: UowDep, list_id: IdPath, who: Reader, locale: Locale
) -> ListRead:
    """A list with its items and reasons in the caller's language (the read is audited:
    a list is drawn from the member's own purchases)."""
    view = queries.list_view(uow, list_id=list_id, locale=locale)
    audit_record(
        uow,
        actor=who,
        action="list_view",
        member_id=view.member_id,
        page=str(request.url.path),
        detail={"list_id": view.id},
    )
    uow.commit()
    return view


@router.get(
    "/lists/{list_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The list to print"}},
)
def get_list_pdf(
    request: Request, uow: UowDep, list_id: IdPath, who: Reader, locale: Locale
) -> Response:
    """The list as the printable PDF (barcode of the list, QR of the member code) in the
    member's language, else the caller's; a control entry answers 409.

    The sheet names the member, so the read is written to the audit trail as on the page.
    """
    view, content = pdf.list_document(
        uow, list_id=list_id, fallback=locale, actor=who, page=str(request.url.path)
    )
    uow.commit()
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="list-{view.code}.pdf"'},
    )


@router.get("/members/{member_id}/lists", response_model=list[ListRead])
def get_member_lists(
    uow: UowDep, member_id: IdPath, _who: Reader, locale: Locale
) -> list[ListRead]:
    """A member's lists (and control entries), newest first."""
    return [
        queries.list_view(uow, list_id=row.id, locale=locale)
        for row in queries.member_lists(uow.session, member_id=member_id)
    ]


@router.get("/offers/statement")
def get_statement(
    uow: UowDep,
    _who: Reader,
    start: datetime | None = None,
    end: datetime | None = None,
    manufacturer: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, Any]]:
    """What each deal's list redemptions cost in [start, end) (default: the last 30 days)."""
    return [
        {
            "manufacturer": line.manufacturer_code,
            "deal": line.deal_code,
            "title": line.deal_title,
            "redemptions": line.redemptions,
            "amount": str(line.amount),
            "manufacturer_amount": str(line.manufacturer_amount),
            "store_amount": str(line.store_amount),
        }
        for line in queries.statement(
            uow.session, start=start, end=end or utcnow(), manufacturer_code=manufacturer
        )
    ]
