"""The till API (identify, receipt, return) and the staff read of receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from regulars.catalog.queries import TillKeys, TillRef
from regulars.core.errors import Unauthorized
from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.loyalty.queries import coupons_usable
from regulars.loyalty.schemas import CouponOffer
from regulars.members.queries import member_identify, member_summary
from regulars.members.schemas import IdentifyRequest
from regulars.sales import queries, service
from regulars.sales.schemas import IdentifyAnswer, ReceiptAnswer, ReceiptIn, ReceiptRead, ReturnIn
from regulars.sales.service import Recorded
from regulars.staff.api import require
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["till"])
staff_router = APIRouter(prefix="/api/v1", tags=["sales"])
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="The till's own API key")


def till_keys(app: FastAPI) -> TillKeys:
    """The app's memory of till keys that passed the check (made at the first request)."""
    keys: TillKeys | None = getattr(app.state, "till_keys", None)
    if keys is None:
        keys = TillKeys()
        app.state.till_keys = keys
    return keys


def _key_check(app: FastAPI, keys: TillKeys, api_key: str) -> TillRef:
    """Read and check a key memory does not hold (in a worker thread), and remember it."""
    with UnitOfWork(app.state.session_factory) as uow:
        return keys.check(uow.session, api_key=api_key)


async def current_till(
    request: Request, api_key: Annotated[str | None, Security(_api_key)]
) -> TillRef:
    """The store and terminal whose API key the request carries, or 401.

    Async, so that a key checked in the last few seconds costs no worker thread and no
    database read (:class:`regulars.catalog.queries.TillKeys`); only a key not in memory
    is read, in a worker thread.
    """
    if not api_key:
        raise Unauthorized(_("till API key missing (X-Api-Key)"))
    keys = till_keys(request.app)
    known = keys.recall(api_key)
    if known is not None:
        return known
    return await run_in_threadpool(_key_check, request.app, keys, api_key)


Till = Annotated[TillRef, Depends(current_till)]


def _answer(recorded: Recorded) -> JSONResponse:
    """201 with the first answer, or 200 and ``Idempotent-Replay`` for a replay.

    The answer is already what :class:`ReceiptAnswer` dumps, so it is sent as it is
    (FastAPI would validate it against the response model a second time).
    """
    if recorded.replayed:
        return JSONResponse(recorded.answer, headers={"Idempotent-Replay": "true"})
    return JSONResponse(recorded.answer, status_code=201)


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
async def post_receipt(request: Request, till: Till, data: ReceiptIn) -> JSONResponse:
    """Record a checkout; a replay returns the first answer and records nothing."""
    # The till's hot path: the whole unit of work runs in one worker thread (a sync
    # dependency and a sync route would each hand the request to a thread and back).
    recorded = await run_in_threadpool(_receipt_record, request.app, till, data)
    return _answer(recorded)


def _receipt_record(app: FastAPI, till: TillRef, data: ReceiptIn) -> Recorded:
    """The receipt's unit of work: record it and commit (in a worker thread)."""
    with UnitOfWork(app.state.session_factory) as uow:
        recorded = service.receipt_record(uow, store=till.store, terminal=till.terminal, data=data)
        uow.commit()
    return recorded


@router.post(
    "/returns",
    response_model=ReceiptAnswer,
    status_code=201,
    responses={200: {"description": "A replay: the first answer, nothing recorded again"}},
)
def post_return(uow: UowDep, till: Till, data: ReturnIn, response: Response) -> dict[str, object]:
    """Record a return against an earlier receipt; never more than was bought."""
    recorded = service.return_record(uow, store=till.store, terminal=till.terminal, data=data)
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
