"""Staff pages: login, logout, language, password, staff management (create, enable or
disable, reset a password, unlock, set the role and stores), audit log.

Also the building blocks every domain's pages use: the logged-in staff member
(:func:`page_staff`), permission checks (:func:`page_require`), CSRF checks
(:func:`csrf_protect`) and :func:`page` to render with the shared layout.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from regulars.core.config import get_settings
from regulars.core.errors import DomainError, Forbidden, InvalidInput, Unauthorized
from regulars.core.i18n import _, normalise_locale
from regulars.core.schemas import Instant
from regulars.core.templating import render
from regulars.core.timeutil import as_utc, local_day
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.staff import audit, rules, service, sessions
from regulars.staff.models import StaffAccount, StaffSession
from regulars.staff.schemas import StaffCreate

router = APIRouter(include_in_schema=False)
SESSION_COOKIE = "regulars_session"
LANG_COOKIE = "regulars_lang"


class LoginRequired(Exception):
    """Raised by page dependencies when no one is logged in; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class PageContext:
    """Who is looking at a page, in which language, with which CSRF token."""

    account: StaffAccount
    session: StaffSession
    locale: str

    def can(self, permission: str) -> bool:
        """Tell whether the account may use ``permission``."""
        return rules.allowed(self.account.role, permission)


def visitor_locale(request: Request) -> str:
    """Language of a visitor who is not logged in: ``?lang``, cookie, then the browser."""
    return normalise_locale(
        request.query_params.get("lang")
        or request.cookies.get(LANG_COOKIE)
        or request.headers.get("accept-language")
    )


def page_staff(request: Request, uow: UowDep) -> PageContext:
    """The logged-in staff member of a page request, or a redirect to the login page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    found = sessions.session_find(uow, session_id=cookie) if cookie else None
    if found is None:
        raise LoginRequired(request.url.path)
    session, account = found
    return PageContext(account=account, session=session, locale=normalise_locale(account.locale))


Staff = Annotated[PageContext, Depends(page_staff)]


def page_require(permission: str) -> Callable[..., PageContext]:
    """Dependency factory: the page's staff member, if their role holds ``permission``."""

    def _check(ctx: Staff) -> PageContext:
        if not ctx.can(permission):
            raise Forbidden(_("your role may not do this"))
        return ctx

    return _check


async def csrf_protect(request: Request, ctx: Staff) -> PageContext:
    """Refuse a state-changing request whose CSRF token is missing or wrong."""
    sent = request.headers.get("x-csrf-token")
    if not sent:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, ctx.session.csrf_token):
        raise Forbidden(_("the form has expired; reload the page and try again"))
    return ctx


Csrf = Annotated[PageContext, Depends(csrf_protect)]


def page(
    request: Request,
    ctx: PageContext,
    template: str,
    data: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a staff page with the shared layout's context."""
    context = {
        "me": ctx.account,
        "csrf_token": ctx.session.csrf_token,
        "can": ctx.can,
        "role_label": rules.role_label,
        **(data or {}),
    }
    return render(request, template, context, locale=ctx.locale, status_code=status_code)


def _safe_next(value: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=300)] = None
) -> HTMLResponse:
    """The login page."""
    locale = visitor_locale(request)
    return render(
        request, "staff/login.html", {"next": _safe_next(next), "error": None}, locale=locale
    )


@router.post("/login", response_model=None)
def login_submit(
    request: Request,
    uow: UowDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=300)] = "/",
) -> Response:
    """Check the password, start a new session (new id) and go on."""
    locale = visitor_locale(request)
    try:
        account = service.staff_authenticate(uow, username=username, password=password)
    except Unauthorized as exc:
        uow.commit()  # the failure count drives the lockout
        context = {"next": _safe_next(next), "error": exc}
        return render(request, "staff/login.html", context, locale=locale, status_code=401)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        sessions.session_end(uow, session_id=old)
    session_id, _row = sessions.session_create(uow, account=account)
    audit.audit_record(uow, actor=account, action="login", page="/login")
    uow.commit()
    target = "/account/password" if account.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path="/"
    )
    return response


@router.post("/logout")
def logout(request: Request, uow: UowDep, ctx: Csrf) -> RedirectResponse:
    """End the session."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        sessions.session_end(uow, session_id=cookie)
        uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
def switch_language(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    lang: Annotated[str, Form(max_length=10)],
    back: Annotated[str, Form(max_length=300)] = "/",
) -> RedirectResponse:
    """Switch the logged-in account's language (kept for next time)."""
    service.staff_set_locale(uow, account=ctx.account, locale=normalise_locale(lang))
    uow.commit()
    return RedirectResponse(_safe_next(back), status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, ctx: Staff) -> HTMLResponse:
    """The password change page."""
    return page(request, ctx, "staff/password.html", {"error": None, "done": False})


@router.post("/account/password", response_class=HTMLResponse)
def password_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    current_password: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=200)],
) -> HTMLResponse:
    """Change the password; this session stays, the account's others and its API tokens
    end (``service.staff_change_password``)."""
    try:
        service.staff_change_password(
            uow,
            account=ctx.account,
            current=current_password,
            new=new_password,
            keep_session=ctx.session,
        )
    except DomainError as exc:
        return page(
            request, ctx, "staff/password.html", {"error": exc, "done": False}, status_code=422
        )
    audit.audit_record(uow, actor=ctx.account, action="password_change", page="/account/password")
    uow.commit()
    return page(request, ctx, "staff/password.html", {"error": None, "done": True})


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: Staff) -> HTMLResponse:
    """The start page: what this role can do."""
    return page(request, ctx, "staff/home.html")


Admin = Annotated[PageContext, Depends(page_require("staff.manage"))]


def _staff_page(
    request: Request, uow: UnitOfWork, ctx: PageContext, *, status_code: int = 200, **shown: Any
) -> HTMLResponse:
    """The staff accounts page, with what the last form did (``error``, ``created`` or
    ``reset``: an account and its one-time password, shown this once)."""
    accounts = service.staff_list(uow)
    data: dict[str, Any] = {
        "accounts": accounts,
        "roles": rules.ROLES,
        "locked": {a.id for a in accounts if service.staff_is_locked(a)},
        "error": None,
        "created": None,
        "reset": None,
        **shown,
    }
    return page(request, ctx, "staff/staff.html", data, status_code=status_code)


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, uow: UowDep, ctx: Admin) -> HTMLResponse:
    """Staff accounts (admin)."""
    return _staff_page(request, uow, ctx)


@router.post("/staff", response_class=HTMLResponse)
def staff_create_page(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=20)],
    store_ids: Annotated[str, Form(max_length=500)] = "",
    locale: Annotated[str, Form(max_length=10)] = "zh_CN",
) -> HTMLResponse:
    """Create an account and show its one-time password once (admin); a refusal (a store
    manager without a store, say) is shown on the page, naming its field."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    created: tuple[StaffAccount, str | None] | None = None
    error: Exception | None = None
    try:
        stores = _store_ids(store_ids)
        data = StaffCreate(
            username=username,
            display_name=display_name,
            role=role,
            store_ids=stores,
            locale="en" if locale == "en" else "zh_CN",
        )
        created = service.staff_create(uow, data=data)
        audit.audit_record(
            uow,
            actor=ctx.account,
            action="staff_create",
            page="/staff",
            detail={"username": username, "role": role},
        )
        uow.commit()
    except (DomainError, ValueError) as exc:
        uow.rollback()
        error = exc
    status = 201 if created else 422
    return _staff_page(request, uow, ctx, status_code=status, error=error, created=created)


@router.post("/staff/{staff_id}/active", response_model=None)
def staff_toggle(
    uow: UowDep, ctx: Csrf, staff_id: IdPath, active: Annotated[bool, Form()]
) -> RedirectResponse:
    """Enable or disable an account (admin)."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    service.staff_set_active(uow, staff_id=staff_id, active=active, by=ctx.account)
    audit.audit_record(
        uow,
        actor=ctx.account,
        action="staff_active",
        page="/staff",
        detail={"staff_id": staff_id, "active": active},
    )
    uow.commit()
    return RedirectResponse("/staff", status_code=303)


@router.post("/staff/{staff_id}/password-reset", response_class=HTMLResponse)
def staff_reset_page(request: Request, uow: UowDep, ctx: Csrf, staff_id: IdPath) -> HTMLResponse:
    """Reset a colleague's password and show the one-time password once (admin)."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    try:
        reset = service.staff_reset_password(uow, staff_id=staff_id, by=ctx.account, page="/staff")
    except DomainError as exc:
        uow.rollback()
        return _staff_page(request, uow, ctx, status_code=exc.status_code, error=exc)
    uow.commit()
    answer = _staff_page(request, uow, ctx, reset=reset)
    answer.headers["Cache-Control"] = "no-store"  # the password must not linger in a cache
    return answer


@router.post("/staff/{staff_id}/unlock", response_model=None)
def staff_unlock_page(uow: UowDep, ctx: Csrf, staff_id: IdPath) -> RedirectResponse:
    """Lift a lockout after repeated failed logins (admin)."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    service.staff_unlock(uow, staff_id=staff_id, by=ctx.account, page="/staff")
    uow.commit()
    return RedirectResponse("/staff", status_code=303)


def _store_ids(text: str) -> list[int]:
    """Store ids typed as the new-account form takes them: numbers, commas or spaces between."""
    parts = text.replace(",", " ").split()
    if not all(p.isdigit() and len(p) <= 10 for p in parts):
        raise InvalidInput(_("store ids are numbers separated by commas"), field="store_ids")
    return [int(p) for p in parts]


@router.post("/staff/{staff_id}/role", response_model=None)
def staff_role_page(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    staff_id: IdPath,
    role: Annotated[str, Form(max_length=20)],
    store_ids: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Set an account's role and stores (admin); a refusal is shown on the page."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    try:
        stores = _store_ids(store_ids)
        service.staff_set_role(
            uow, staff_id=staff_id, role=role, store_ids=stores, by=ctx.account, page="/staff"
        )
    except DomainError as exc:
        uow.rollback()
        return _staff_page(request, uow, ctx, status_code=exc.status_code, error=exc)
    uow.commit()
    return RedirectResponse("/staff", status_code=303)


#: Audit events per page of /audit; the page after is offered while more are left.
AUDIT_PAGE_SIZE = 100
_instant: TypeAdapter[datetime] = TypeAdapter(Instant)


def _bare_day(value: str) -> date | None:
    """The day ``value`` names when it is a day alone (``2026-05-01``), else ``None``."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _audit_time(text: str | None, *, field: str) -> datetime | None:
    """A time typed into the audit search (ISO 8601), in UTC: with a zone as given,
    without one (or a bare day) in the chain's time zone, the one the page shows its
    times in. A bare day as "until" means up to that day's end, so since and until one
    day find that day. A time UTC cannot hold is refused (``Instant``), naming the field,
    like one that is no time."""
    if not text or not text.strip():
        return None
    value = text.strip()
    zone = ZoneInfo(get_settings().timezone)
    day = _bare_day(value)
    try:
        if day is not None and field == "until":
            return local_day(day, get_settings().timezone)[1] - timedelta(microseconds=1)
        typed = datetime.fromisoformat(value)
        if typed.tzinfo is None:
            typed = typed.replace(tzinfo=zone)
        return as_utc(_instant.validate_python(typed))
    except (ValidationError, ValueError, OverflowError) as exc:
        message = (
            _("since: not a date or time the audit trail can be searched from")
            if field == "since"
            else _("until: not a date or time the audit trail can be searched up to")
        )
        raise InvalidInput(message, field=field) from exc


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    uow: UowDep,
    ctx: Admin,
    member_id: Annotated[str | None, Query(max_length=12)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    since: Annotated[str | None, Query(max_length=30)] = None,
    until: Annotated[str | None, Query(max_length=30)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Search the audit trail (admin), newest first, a page at a time, with the filters
    the API has (``GET /api/v1/audit``)."""
    member = int(member_id) if member_id and member_id.isdigit() and len(member_id) < 10 else None
    start = _audit_time(since, field="since")
    end = _audit_time(until, field="until")
    # One more than a page tells whether a next page exists without counting them all.
    found = audit.audit_search(
        uow,
        member_id=member,
        actor=actor or None,
        action=action or None,
        since=start,
        until=end,
        limit=AUDIT_PAGE_SIZE + 1,
        offset=(page_no - 1) * AUDIT_PAGE_SIZE,
    )
    filters = {
        "member_id": member_id or "",
        "actor": actor or "",
        "action": action or "",
        "since": since or "",
        "until": until or "",
    }
    data = {
        "events": found[:AUDIT_PAGE_SIZE],
        "filters": filters,
        "query": urlencode(filters),
        "page_no": page_no,
        "more": len(found) > AUDIT_PAGE_SIZE,
    }
    return page(request, ctx, "staff/audit.html", data)


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    """Where a page request without a session goes."""
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)
