"""The till API (identify, receipt, return) and the staff read of receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, Security
from fastapi.security import APIKeyHeader

from regulars.catalog.models import Store, Terminal
from regulars.catalog.queries import terminal_authenticate
from regulars.core.errors import Unauthorized
from regulars.core.i18n import _
from regulars.core.web import IdPath, UowDep
from regulars.loyalty.queries import coupons_usable
from regulars.loyalty.schemas import CouponOffer
from regulars.members.queries import member_identify, member_summary
from regulars.members.schemas import IdentifyRequest
from regulars.sales import queries, service
from regulars.sales.schemas import IdentifyAnswer, ReceiptAnswer, ReceiptIn, ReceiptRead, ReturnIn
from regulars.staff.api import require
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["till"])
staff_router = APIRouter(prefix="/api/v1", tags=["sales"])
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="The till's own API key")


def current_till(
    uow: UowDep, api_key: Annotated[str | None, Security(_api_key)]
) -> tuple[Store, Terminal]:
    """The store and terminal whose API key the request carries, or 401."""
    if not api_key:
        raise Unauthorized(_("till API key missing (X-Api-Key)"))
    terminal, store = terminal_authenticate(uow.session, api_key=api_key)
    return store, terminal


Till = Annotated[tuple[Store, Terminal], Depends(current_till)]


@router.post("/till/identify", response_model=IdentifyAnswer)
def identify(uow: UowDep, till: Till, data: IdentifyRequest) -> IdentifyAnswer:
    """Identify a member by mobile, card number or scanned member code, with the coupons
    they can use now (the till offers them; the receipt names the ones used)."""
    member = member_identify(
        uow.session, mobile=data.mobile, card_no=data.card_no, member_code=data.member_code
    )
    offers = coupons_usable(uow.session, member_id=member.id)
    return IdentifyAnswer(
        **member_summary(member).model_dump(),
        coupons=[CouponOffer.model_validate(c, from_attributes=True) for c in offers],
    )


@router.post(
    "/receipts",
    response_model=ReceiptAnswer,
    status_code=201,
    responses={200: {"description": "A replay: the first answer, nothing recorded again"}},
)
def post_receipt(uow: UowDep, till: Till, data: ReceiptIn, response: Response) -> dict[str, object]:
    """Record a checkout; a replay returns the first answer and records nothing."""
    store, terminal = till
    recorded = service.receipt_record(uow, store=store, terminal=terminal, data=data)
    uow.commit()
    if recorded.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replay"] = "true"
    return recorded.answer


@router.post(
    "/returns",
    response_model=ReceiptAnswer,
    status_code=201,
    responses={200: {"description": "A replay: the first answer, nothing recorded again"}},
)
def post_return(uow: UowDep, till: Till, data: ReturnIn, response: Response) -> dict[str, object]:
    """Record a return against an earlier receipt; never more than was bought."""
    store, terminal = till
    recorded = service.return_record(uow, store=store, terminal=terminal, data=data)
    uow.commit()
    if recorded.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replay"] = "true"
    return recorded.answer


@staff_router.get("/receipts/{receipt_id}", response_model=ReceiptRead)
def get_receipt(
    uow: UowDep, receipt_id: IdPath, _who: Annotated[StaffAccount, Depends(require("sales.read"))]
) -> ReceiptRead:
    """A receipt with its lines."""
    return queries.receipt_get(uow.session, receipt_id=receipt_id)


@staff_router.get("/members/{member_id}/receipts", response_model=list[ReceiptRead])
def member_receipts(
    uow: UowDep, member_id: IdPath, _who: Annotated[StaffAccount, Depends(require("sales.read"))]
) -> list[ReceiptRead]:
    """A member's receipts, newest first (without lines)."""
    return [
        ReceiptRead.model_validate(r)
        for r in queries.receipts_of_member(uow.session, member_id=member_id)
    ]
