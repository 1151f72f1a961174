"""The till API (identify, receipt, return) and the staff read of receipts."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, Security
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regulars.catalog.queries import TillKeys, TillRef
from regulars.core.config import get_settings
from regulars.core.errors import InvalidInput, Unauthorized
from regulars.core.i18n import _
from regulars.core.schemas import Day
from regulars.core.timeutil import local_day
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.loyalty.queries import coupons_usable
from regulars.loyalty.schemas import CouponOffer
from regulars.members.queries import member_identify, member_summary
from regulars.members.schemas import IdentifyRequest
from regulars.sales import queries, service
from regulars.sales.schemas import (
    IdentifyAnswer,
    ReceiptAnswer,
    ReceiptDetail,
    ReceiptFound,
    ReceiptIn,
    ReceiptRead,
    ReturnIn,
)
from regulars.sales.service import Recorded
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount
from regulars.staff.rules import store_scope

router = APIRouter(prefix="/api/v1", tags=["till"])
staff_router = APIRouter(prefix="/api/v1", tags=["sales"])
_JSON = "application/json"
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


def _answer(recorded: Recorded) -> Response:
    """201 with the first answer, or 200 and ``Idempotent-Replay`` for a replay.

    The answer is already what :class:`ReceiptAnswer` dumps, so it is sent as it is
    (FastAPI would validate it against the response model a second time), encoded by
    ``pydantic_core`` (the same compact UTF-8 JSON as ``JSONResponse``, in a fifth of the
    time of the standard library's encoder).
    """
    body = to_json(recorded.answer)
    if recorded.replayed:
        return Response(body, media_type=_JSON, headers={"Idempotent-Replay": "true"})
    return Response(body, status_code=201, media_type=_JSON)


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
async def post_receipt(request: Request, till: Till, data: ReceiptIn) -> Response:
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


class TillReceiptFastPath:
    """``POST /api/v1/receipts`` answered without the framework's layers, when all goes well.

    Every till posts each checkout, so this one request is most of the server's work, and
    for it the layers between the server and the route (exception middleware, routing,
    the request object, dependency solving, body parsing into Python objects first) cost
    about as much Python time as recording the receipt. This middleware, placed inside
    :class:`regulars.core.web.RejectNul` and the body-size limit, handles the usual case
    itself: a till key the worker already trusts (:meth:`TillKeys.recall`), a body that
    Pydantic validates straight from its JSON bytes, and a receipt recorded without an
    error, in a worker thread of its own pool.

    Anything else (no key or one not in memory, a body that does not validate, any error
    while recording, whose unit of work has then rolled back) goes on to the documented
    route (:func:`post_receipt`) with the body it read, so every refusal is the route's,
    word for word, and this path has no error handling of its own to keep in step.
    """

    PATH = "/api/v1/receipts"

    def __init__(self, app: ASGIApp, threads: int = 20) -> None:
        self.app = app
        self.answered = 0  # receipts this path answered itself (tests read it)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="till")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a till's receipt here, or pass the request on unchanged."""
        if scope["type"] != "http" or scope["path"] != self.PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        app: FastAPI = scope["app"]
        till = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                till = till_keys(app).recall(value.decode("latin-1")) if value else None
                break
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        recorded = None
        if till is not None and messages[-1]["type"] == "http.request":
            try:
                data = ReceiptIn.model_validate_json(body)
            except ValidationError:
                data = None
            if data is not None:
                recorded = await self._record(app, till, data)
        if recorded is not None:
            self.answered += 1
            await _answer(recorded)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _record(self, app: FastAPI, till: TillRef, data: ReceiptIn) -> Recorded | None:
        """Record the receipt in this path's thread pool; ``None`` if anything failed."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        try:
            return await loop.run_in_executor(
                self._pool, context.run, _receipt_record, app, till, data
            )
        except Exception:  # the route records it again and answers the error
            return None


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


SalesReader = Annotated[StaffAccount, Depends(require("sales.read"))]


@staff_router.get("/receipts", response_model=list[ReceiptFound])
def find_receipts(
    uow: UowDep,
    who: SalesReader,
    receipt_no: Annotated[str | None, Query(max_length=64, description="exact number")] = None,
    store: Annotated[str | None, Query(max_length=32, description="store code")] = None,
    terminal: Annotated[str | None, Query(max_length=32, description="terminal code")] = None,
    day: Annotated[Day | None, Query(description="a day in the chain's time zone")] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[ReceiptFound]:
    """Receipts (sales and returns) by exact number, store and terminal code and day (in
    the chain's time zone), newest first, 50 from ``offset``; at least one of the four is
    required. Store managers find their stores' only."""
    if not (receipt_no or store or terminal or day):
        raise InvalidInput(
            _("give a receipt number, a store, a terminal or a day"), field="receipt_no"
        )
    since, until = local_day(day, get_settings().timezone) if day else (None, None)
    return queries.receipt_find(
        uow.session,
        receipt_no=receipt_no or None,
        store_code=store or None,
        terminal_code=terminal or None,
        store_ids=store_scope(who.role, who.store_ids),
        since=since,
        until=until,
        offset=offset,
    )


@staff_router.get("/receipts/{receipt_id}", response_model=ReceiptDetail)
def get_receipt(uow: UowDep, receipt_id: IdPath, who: SalesReader) -> ReceiptDetail:
    """A receipt with its store and terminal, lines (with quantities returned since), its
    returns and, for a return, the original; every field of a ``ReceiptRead`` is kept.

    A store manager asking for another store's receipt gets 404, not 403, so that ids of
    other stores cannot be probed.
    """
    return queries.receipt_detail(
        uow.session, receipt_id=receipt_id, store_ids=store_scope(who.role, who.store_ids)
    )


@staff_router.get("/members/{member_id}/receipts", response_model=list[ReceiptRead])
def member_receipts(
    request: Request, uow: UowDep, member_id: IdPath, who: SalesReader
) -> list[ReceiptRead]:
    """A member's receipts, newest first (without lines); a store manager's stores' only,
    as ``GET /api/v1/receipts`` shows them. A read of the member's history, so audited."""
    found = [
        ReceiptRead.model_validate(r)
        for r in queries.receipts_of_member(
            uow.session, member_id=member_id, store_ids=store_scope(who.role, who.store_ids)
        )
    ]
    audit_record(
        uow,
        actor=who,
        action="receipts_view",
        member_id=member_id,
        page=str(request.url.path),
        detail={"receipts": len(found)},
    )
    uow.commit()
    return found
