"""The member page (会员页面): sign in with a one-time code, see and correct one's own data.

Members are not staff: they have their own cookie (``regulars_member``), their own
server-side session (``member_session``) and their own CSRF token. The pages call the
same services as the staff pages; the member id always comes from the session, never
from the request, so one member cannot reach another's data.
"""

from __future__ import annotations

import hmac
import io
from dataclasses import dataclass
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from regulars.core.errors import DomainError, Forbidden, InvalidInput, Unauthorized
from regulars.core.i18n import _, normalise_locale
from regulars.core.templating import render
from regulars.core.web import IdPath, UowDep
from regulars.members import extensions, portal, queries, rules, service
from regulars.members.models import Member, MemberSession
from regulars.members.schemas import ConsentIn
from regulars.members.web import form_error, profile_update
from regulars.staff.audit import audit_record
from regulars.staff.web import LANG_COOKIE, PageContext, page_require

router = APIRouter(include_in_schema=False)
MEMBER_COOKIE = "regulars_member"
# Profile extensions a member sees about themselves. Points, lists and tickets join here
# when their domains register a panel under these keys; staff-only panels never do.
MEMBER_PANELS = ("receipts", "points", "lists", "tickets")


@dataclass
class MemberContext:
    """The signed-in member of a page request, their session and the page language."""

    member: Member
    session: MemberSession
    locale: str


def member_page_locale(request: Request) -> str:
    """Language of the member page: ``?lang``, the language cookie, else Chinese."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return normalise_locale(chosen) if chosen else portal.DEFAULT_LOCALE


def _signed_in(request: Request, uow: UowDep) -> MemberContext | None:
    """The member of the request's session cookie, if the session is live."""
    cookie = request.cookies.get(MEMBER_COOKIE)
    found = portal.member_session_find(uow, session_id=cookie) if cookie else None
    if found is None:
        return None
    session, member = found
    return MemberContext(member=member, session=session, locale=member_page_locale(request))


def member_required(request: Request, uow: UowDep) -> MemberContext:
    """Dependency: the signed-in member, or 401."""
    ctx = _signed_in(request, uow)
    if ctx is None:
        raise Unauthorized(_("sign in on the member page first"))
    return ctx


async def member_csrf(
    request: Request, ctx: Annotated[MemberContext, Depends(member_required)]
) -> MemberContext:
    """Dependency: the signed-in member, if the form carries their session's CSRF token."""
    form = await request.form()
    value = form.get("csrf_token")
    sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, ctx.session.csrf_token):
        raise Forbidden(_("the form has expired; reload the page and try again"))
    return ctx


MemberCsrf = Annotated[MemberContext, Depends(member_csrf)]


def _page(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    locale: str,
    ctx: MemberContext | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a member page; a ``?lang`` choice is kept in the language cookie."""
    context: dict[str, Any] = {"signed_in": ctx is not None, **data}
    if ctx is not None:
        context["csrf_token"] = ctx.session.csrf_token
    response = render(request, template, context, locale=locale, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if request.query_params.get("lang"):
        response.set_cookie(LANG_COOKIE, locale, samesite="lax", path="/")
    return response


def _set_member_cookie(request: Request, response: Response, session_id: str) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        MEMBER_COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path="/"
    )


@router.get("/m", response_model=None)
def signin_form(
    request: Request,
    uow: UowDep,
    member: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Sign-in: the member types a mobile number, email or member code (or a QR code fills it)."""
    if _signed_in(request, uow) is not None:
        return RedirectResponse("/m/me", status_code=303)
    prefill = member if member and member.isdigit() else ""
    data = {"identifier": prefill, "error": None}
    return _page(request, "portal/signin.html", data, locale=member_page_locale(request))


@router.post("/m/code", response_class=HTMLResponse)
def code_request(
    request: Request,
    uow: UowDep,
    identifier: Annotated[str, Form(max_length=254)],
) -> HTMLResponse:
    """Send a code and ask for it; the answer is the same whether or not the member exists."""
    locale = member_page_locale(request)
    try:
        portal.otp_request(uow, identifier=identifier)
    except InvalidInput as exc:
        uow.rollback()
        data = {"identifier": identifier, "error": exc}
        return _page(request, "portal/signin.html", data, locale=locale, status_code=422)
    uow.commit()
    data = {"identifier": identifier.strip(), "error": None}
    return _page(request, "portal/code.html", data, locale=locale)


@router.post("/m/verify", response_model=None)
def code_verify(
    request: Request,
    uow: UowDep,
    identifier: Annotated[str, Form(max_length=254)],
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    """Check the code, start a new member session (new id) and open the member's page."""
    locale = member_page_locale(request)
    try:
        member_id = portal.otp_verify(uow, identifier=identifier, code=code)
    except Unauthorized as exc:
        uow.commit()  # the wrong guess is counted against the code
        data = {"identifier": identifier.strip(), "error": exc}
        return _page(request, "portal/code.html", data, locale=locale, status_code=401)
    except InvalidInput as exc:
        uow.rollback()
        data = {"identifier": identifier, "error": exc}
        return _page(request, "portal/signin.html", data, locale=locale, status_code=422)
    old = request.cookies.get(MEMBER_COOKIE)
    if old:
        portal.member_session_end(uow, session_id=old)
    session_id, _row = portal.member_session_create(uow, member_id=member_id)
    member = queries.member_get(uow.session, member_id=member_id)
    portal.member_locale_set(uow, member=member, locale=locale)
    audit_record(uow, actor=f"member:{member_id}", action="member_sign_in", member_id=member_id)
    uow.commit()
    response = RedirectResponse("/m/me", status_code=303)
    _set_member_cookie(request, response, session_id)
    return response


def _me(
    request: Request,
    uow: UowDep,
    ctx: MemberContext,
    *,
    error: Any = None,
    saved: bool = False,
    status: int = 200,
) -> HTMLResponse:
    member = ctx.member
    read = queries.member_read(uow.session, member)
    panels = [
        ext.panel(uow, member_id=member.id)
        for ext in extensions.registered()
        if ext.key in MEMBER_PANELS
    ]
    data = {
        "m": read,
        "panels": panels,
        "purposes": rules.PURPOSES,
        "channels": rules.CHANNELS,
        "genders": rules.GENDERS,
        "consent_on": {(c.purpose, c.channel) for c in read.consents if c.granted},
        "error": error,
        "saved": saved,
        "email_pending": portal.email_change_pending(uow, member_id=member.id),
    }
    return _page(request, "portal/me.html", data, locale=ctx.locale, ctx=ctx, status_code=status)


@router.get("/m/me", response_model=None)
def me_page(
    request: Request,
    uow: UowDep,
    saved: Annotated[bool, Query()] = False,
) -> Response:
    """The member's own page: profile, consents, and what other domains show them."""
    ctx = _signed_in(request, uow)
    if ctx is None:
        return RedirectResponse("/m", status_code=303)
    return _me(request, uow, ctx, saved=saved)


@router.post("/m/me/profile", response_model=None)
async def profile_submit(request: Request, uow: UowDep, ctx: MemberCsrf) -> Response:
    """Save the member's corrections to their own profile.

    A new email address is not saved here: a code goes to it, and it becomes the member's
    when they type the code back (``/m/me/email``).
    """
    member_id = ctx.member.id
    form = await request.form()
    email = str(form.get("email") or "").strip()
    try:
        data = profile_update(form, identity=())
        service.member_update(uow, member_id=member_id, data=data)
        sent = bool(email) and "*" not in email
        if sent:
            sent = portal.email_change_request(uow, member=ctx.member, email=email)
    except (DomainError, ValueError) as exc:  # ValueError covers Pydantic's and int()/date()'s
        uow.rollback()
        return _me(request, uow, ctx, error=form_error(exc), status=422)
    audit_record(
        uow,
        actor=f"member:{member_id}",
        action="member_update",
        member_id=member_id,
        page=str(request.url.path),
    )
    uow.commit()
    return RedirectResponse(f"/m/me?saved=true{'&email_sent=true' if sent else ''}", 303)


@router.post("/m/me/email", response_model=None)
def email_confirm(
    request: Request,
    uow: UowDep,
    ctx: MemberCsrf,
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    """Make the new email address the member's once they type the code sent to it."""
    member_id = ctx.member.id
    try:
        portal.email_change_confirm(uow, member_id=member_id, code=code)
    except Unauthorized as exc:
        uow.commit()  # the wrong guess is counted against the code
        return _me(request, uow, ctx, error=exc, status=401)
    except DomainError as exc:
        uow.rollback()
        return _me(request, uow, ctx, error=exc, status=422)
    audit_record(
        uow,
        actor=f"member:{member_id}",
        action="member_email_confirmed",
        member_id=member_id,
        page=str(request.url.path),
    )
    uow.commit()
    return RedirectResponse("/m/me?saved=true", status_code=303)


@router.post("/m/me/consents", response_model=None)
def consent_submit(
    request: Request,
    uow: UowDep,
    ctx: MemberCsrf,
    purpose: Annotated[str, Form(max_length=30)],
    channel: Annotated[str, Form(max_length=20)],
    granted: Annotated[bool, Form()],
) -> Response:
    """Grant or withdraw one of the member's own consents (source: the member page)."""
    member_id = ctx.member.id
    try:
        consent = ConsentIn(purpose=purpose, channel=channel, granted=granted, source="member page")
    except ValidationError as exc:
        return _me(request, uow, ctx, error=form_error(exc), status=422)
    service.consent_set(uow, member_id=member_id, consent=consent)
    audit_record(
        uow,
        actor=f"member:{member_id}",
        action="consent_change",
        member_id=member_id,
        page=str(request.url.path),
        detail={"purpose": purpose, "channel": channel, "granted": granted},
    )
    uow.commit()
    return RedirectResponse("/m/me", status_code=303)


@router.post("/m/signout")
def signout(request: Request, uow: UowDep, ctx: MemberCsrf) -> RedirectResponse:
    """End the member's session."""
    cookie = request.cookies.get(MEMBER_COOKIE)
    if cookie:
        portal.member_session_end(uow, session_id=cookie)
        uow.commit()
    response = RedirectResponse("/m", status_code=303)
    response.delete_cookie(MEMBER_COOKIE, path="/")
    return response


def _qr_svg(link: str) -> Response:
    """An SVG QR code of ``link``."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=4, border=4, xmldecl=False)
    return Response(buffer.getvalue(), media_type="image/svg+xml")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/m/qr.svg")
def portal_qr(request: Request) -> Response:
    """A QR code of the member page's link, for posters at the service desk."""
    return _qr_svg(f"{_base(request)}/m?lang=zh_CN")


@router.get("/members/{member_id}/qr.svg")
def member_qr(
    request: Request,
    uow: UowDep,
    ctx: Annotated[PageContext, Depends(page_require("members.read"))],
    member_id: IdPath,
) -> Response:
    """A QR code of the member page with the member code filled in, to print for the member."""
    member = queries.member_get(uow.session, member_id=member_id)
    code = rules.member_code(member.id)
    return _qr_svg(f"{_base(request)}/m?lang=zh_CN&member={code}")
