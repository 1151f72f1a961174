"""The outbox for staff: what was sent to members, what waits and why (page and API).

It lives with the jobs because delivering the outbox is a scheduled task; the messages
themselves belong to :mod:`regulars.notify`, which sits below the staff domain and so
cannot hold a staff page itself. One member's messages are also a staff API route here
(``/api/v1/members/{id}/messages``) for the same reason; on the profile page they are the
members domain's panel (:mod:`regulars.members.messages`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from regulars.core.config import get_settings
from regulars.core.errors import Forbidden
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.members.queries import member_get
from regulars.notify.dispatch import outbox_dispatch
from regulars.notify.models import CHANNELS, STATUSES
from regulars.notify.queries import outbox_counts, outbox_of_member, outbox_recent
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount
from regulars.staff.web import Csrf, PageContext, page, page_require

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["outbox"])
# Admins only, as the API (``staff.manage``).
AdminPage = Annotated[PageContext, Depends(page_require("staff.manage"))]
Admin = Annotated[StaffAccount, Depends(require("staff.manage"))]
# One member's messages: whoever may read the member (see ``member_messages``).
Reader = Annotated[StaffAccount, Depends(require("members.read"))]
# A member filter, bounded like every id (a larger number is a 422, not a database error).
MemberFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Status = Literal["pending", "sending", "sent", "failed"]
Channel = Literal["sms", "email"]


class MessageRead(BaseModel):
    """A message as staff see it: the recipient masked, the body not shown."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    recipient_masked: str
    member_id: int | None
    purpose: str
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


class OutboxRead(BaseModel):
    """The newest messages and the totals by channel and status."""

    items: list[MessageRead]
    totals: dict[str, dict[str, int]]
    transports: list[str]


class DispatchRead(BaseModel):
    """What one delivery round did."""

    sent: int
    retry: int
    failed: int
    waiting: int


def _transports() -> list[str]:
    settings = get_settings()
    return [c for c, on in (("email", settings.smtp_host), ("sms", settings.sms_gateway_url)) if on]


def _audit_member_read(
    uow: UnitOfWork, *, actor: StaffAccount, member_id: int | None, page: str
) -> None:
    """Record a read of one member's messages as a read of their profile (``messages_view``);
    the unfiltered outbox names no member and is not a read of anyone's profile."""
    if member_id is None:
        return
    audit_record(uow, actor=actor, action="messages_view", member_id=member_id, page=page)
    uow.commit()


def _totals(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    return {
        channel: {status: counts.get((channel, status), 0) for status in STATUSES}
        for channel in CHANNELS
    }


def _everyone(*, status: str, channel: str) -> str:
    """The page without its member filter: the same status and channel, every member's."""
    kept = {name: value for name, value in (("status", status), ("channel", channel)) if value}
    return f"/outbox?{urlencode(kept)}" if kept else "/outbox"


@pages.get("/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request,
    uow: UowDep,
    ctx: AdminPage,
    status: Annotated[str, Query(pattern="^(|pending|sending|sent|failed)$")] = "",
    channel: Annotated[str, Query(pattern="^(|sms|email)$")] = "",
    sent: Annotated[str, Query(max_length=40)] = "",
    member_id: MemberFilter = None,
) -> HTMLResponse:
    """Messages to members, newest first, with delivery state; send what is due.

    ``member_id`` keeps one member's messages (the profile panel links here); that read is
    audited as the member's. The page says so, with a way back to everyone's, and its
    totals' links keep the member (the totals themselves stay the whole outbox's, as in
    the API), so that following one does not silently widen the list to every member.
    """
    rows = outbox_recent(
        uow.session,
        status=status or None,
        channel=channel or None,
        member_id=member_id,
        limit=200,
    )
    _audit_member_read(uow, actor=ctx.account, member_id=member_id, page=str(request.url.path))
    data = {
        "rows": rows,
        "totals": _totals(outbox_counts(uow.session)),
        "statuses": STATUSES,
        "channels": CHANNELS,
        "status": status,
        "channel": channel,
        "transports": _transports(),
        "sent": sent,
        "member_id": member_id,
        "everyone": _everyone(status=status, channel=channel),
    }
    return page(request, ctx, "jobs/outbox.html", data)


@pages.post("/outbox/send")
def outbox_send_now(request: Request, uow: UowDep, ctx: Csrf) -> RedirectResponse:
    """Deliver what is due now instead of waiting for the scheduler's next minute."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    # End this request's transaction first: delivery opens its own units of work, and on
    # SQLite a second writer would wait for this one's lock until the request ended.
    uow.commit()
    counts = outbox_dispatch(request.app.state.session_factory)
    summary = f"{counts['sent']}-{counts['retry']}-{counts['failed']}-{counts['waiting']}"
    return RedirectResponse(f"/outbox?sent={summary}", status_code=303)


@api.get("/outbox", response_model=OutboxRead)
def outbox_list(
    request: Request,
    uow: UowDep,
    who: Admin,
    status: Status | None = None,
    channel: Channel | None = None,
    member_id: MemberFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutboxRead:
    """The newest messages to members (recipients masked, bodies withheld) and totals;
    ``member_id`` keeps one member's (audited as a read of that member)."""
    rows = outbox_recent(
        uow.session, status=status, channel=channel, member_id=member_id, limit=limit
    )
    _audit_member_read(uow, actor=who, member_id=member_id, page=str(request.url.path))
    return OutboxRead(
        items=[MessageRead.model_validate(r) for r in rows],
        totals=_totals(outbox_counts(uow.session)),
        transports=_transports(),
    )


@api.post("/outbox/send", response_model=DispatchRead)
def outbox_send(request: Request, uow: UowDep, who: Admin) -> DispatchRead:
    """Deliver what is due now; counts of sent, to retry, failed and waiting messages."""
    uow.commit()  # as on the page: delivery's own transactions must not wait for this one
    counts = outbox_dispatch(request.app.state.session_factory)
    audit_record(uow, actor=who, action="outbox_send", detail=counts)
    uow.commit()
    return DispatchRead(**counts)


@api.get("/members/{member_id}/messages", response_model=list[MessageRead], tags=["members"])
def member_messages(
    request: Request,
    uow: UowDep,
    who: Reader,
    member_id: IdPath,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[MessageRead]:
    """One member's messages, newest first (recipients masked, bodies withheld).

    Open to every role that may read the member (``members.read``), not only to admins as
    the outbox is: a member's messages are part of their profile, and the service desk is
    who is asked whether a code or an offer arrived. Audited like a profile read.
    """
    member_get(uow.session, member_id=member_id)
    rows = outbox_of_member(uow.session, member_id=member_id, limit=limit)
    audit_record(
        uow, actor=who, action="messages_view", member_id=member_id, page=str(request.url.path)
    )
    uow.commit()
    return [MessageRead.model_validate(r) for r in rows]
