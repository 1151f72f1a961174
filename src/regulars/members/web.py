"""Staff pages of the members domain: search, profile, edit, consents, merge, export, erase."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from regulars.core.errors import DomainError, InvalidInput
from regulars.core.i18n import _
from regulars.core.reasons import invalid_input
from regulars.core.schemas import MAX_ID
from regulars.core.web import IdPath, UowDep
from regulars.members import extensions, queries, rules, service
from regulars.members.schemas import ConsentIn, MemberCreate, MemberUpdate
from regulars.staff.audit import audit_record
from regulars.staff.rules import store_scope
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("members.read"))]


def split_list(text: str) -> list[str]:
    """A comma-separated form field as a list (both ASCII and Chinese commas)."""
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


@router.get("/members", response_class=HTMLResponse)
def search_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    """Find members by mobile, card number or name."""
    found = queries.member_search(uow.session, text=q, limit=50) if q else []
    results = [queries.member_summary(m) for m in found]
    return page(
        request, ctx, "members/search.html", {"q": q or "", "results": results, "error": None}
    )


@router.post("/members", response_model=None)
def register_page(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    mobile: Annotated[str, Form(max_length=20)] = "",
    card_no: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Register a member from the search page."""
    ctx_check(ctx, "members.write")
    try:
        data = MemberCreate(mobile=mobile or None, card_no=card_no or None, name=name or None)
        member = service.member_register(uow, data=data, source=f"staff:{ctx.account.username}")
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        context = {"q": "", "results": [], "error": form_error(exc)}
        return page(request, ctx, "members/search.html", context, status_code=422)
    audit_record(
        uow, actor=ctx.account, action="member_register", member_id=member.id, page="/members"
    )
    uow.commit()
    return RedirectResponse(f"/members/{member.id}", status_code=303)


PROFILE_TEXT = ("name", "gender", "address", "community", "occupation", "delivery_needs")
PROFILE_LISTS = ("hobbies", "preferences", "pets")


def profile_update(form: Mapping[str, Any], *, identity: Sequence[str]) -> MemberUpdate:
    """The ``MemberUpdate`` of a profile form, shared by the staff profile and the member page.

    Lists are typed comma-separated; an ``identity`` field (mobile, card, email) is changed
    only when filled in and not the masked value the form showed.
    """
    names = (*PROFILE_TEXT, *PROFILE_LISTS, "birthday", "household_size", "children_birth_years")
    text = {name: str(form.get(name) or "").strip() for name in (*names, *identity)}
    values: dict[str, Any] = {name: text[name] or None for name in PROFILE_TEXT}
    values.update({name: split_list(text[name]) for name in PROFILE_LISTS})
    values["birthday"] = date.fromisoformat(text["birthday"]) if text["birthday"] else None
    values["household_size"] = int(text["household_size"]) if text["household_size"] else None
    values["children_birth_years"] = [int(y) for y in split_list(text["children_birth_years"])]
    values.update({name: text[name] for name in identity if text[name] and "*" not in text[name]})
    return MemberUpdate(**values)


def ctx_check(ctx: PageContext, permission: str) -> None:
    """Refuse when the page's staff member lacks ``permission``."""
    page_require(permission)(ctx)


def form_error(exc: Exception) -> DomainError:
    """A form error for the template: the domain error itself, or one made from bad input."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, ValidationError):
        return invalid_input(exc)
    return InvalidInput(_("{where}: {reason}"), where="-", reason=str(exc))


def _profile(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    member_id: int,
    *,
    error: Any = None,
    status: int = 200,
) -> HTMLResponse:
    member = queries.member_get(uow.session, member_id=member_id)
    read = queries.member_read(uow.session, member)
    show_mobile = ctx.can("members.see_mobile")
    mobile = queries.member_mobile(member) if show_mobile else None
    email = queries.member_email(member) if show_mobile else None
    scope = store_scope(ctx.account.role, ctx.account.store_ids)
    panels = [
        ext.panel(uow, member_id=member.id, store_ids=scope) for ext in extensions.registered()
    ]
    audit_record(
        uow,
        actor=ctx.account,
        action="profile_view",
        member_id=member.id,
        page=str(request.url.path),
        detail={"mobile_shown": bool(mobile), "email_shown": bool(email)},
    )
    uow.commit()
    context = {
        "m": read,
        "mobile": mobile,
        "email": email,
        "panels": panels,
        "history": queries.consent_history(uow.session, member_id=member.id),
        "merges": queries.merges_of(uow.session, member_id=member.id),
        "duplicates": (
            len(queries.duplicate_candidates(uow.session, member_id=member.id))
            if ctx.can("members.merge")
            else 0
        ),
        "purposes": rules.PURPOSES,
        "channels": rules.CHANNELS,
        "genders": rules.GENDERS,
        "consent_on": {(c.purpose, c.channel) for c in read.consents if c.granted},
        "error": error,
    }
    return page(request, ctx, "members/profile.html", context, status_code=status)


@router.get("/members/{member_id}", response_class=HTMLResponse)
def profile_page(request: Request, uow: UowDep, ctx: Reader, member_id: IdPath) -> HTMLResponse:
    """A member's profile: basic, special and household data, consents, and each domain's panel.

    Every view is written to the audit trail (who, when, which member, which page).
    """
    return _profile(request, uow, ctx, member_id)


@router.post("/members/{member_id}/edit", response_class=HTMLResponse, response_model=None)
async def edit_submit(request: Request, uow: UowDep, ctx: Csrf, member_id: IdPath) -> Response:
    """Save the profile form."""
    ctx_check(ctx, "members.write")
    try:
        data = profile_update(await request.form(), identity=("mobile", "card_no", "email"))
        service.member_update(uow, member_id=member_id, data=data)
    except (DomainError, ValueError) as exc:  # ValueError covers Pydantic's and int()/date()'s
        uow.rollback()
        return _profile(request, uow, ctx, member_id, error=form_error(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="member_update",
        member_id=member_id,
        page=str(request.url.path),
    )
    uow.commit()
    return RedirectResponse(f"/members/{member_id}", status_code=303)


@router.post("/members/{member_id}/consents", response_model=None)
def consent_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    member_id: IdPath,
    purpose: Annotated[str, Form(max_length=30)],
    channel: Annotated[str, Form(max_length=20)],
    granted: Annotated[bool, Form()],
) -> Response:
    """Grant or withdraw one consent; the source records who did it."""
    ctx_check(ctx, "members.write")
    try:
        consent = ConsentIn(
            purpose=purpose,
            channel=channel,
            granted=granted,
            source=f"staff:{ctx.account.username}",
        )
    except ValidationError as exc:
        return _profile(request, uow, ctx, member_id, error=form_error(exc), status=422)
    service.consent_set(uow, member_id=member_id, consent=consent)
    audit_record(
        uow,
        actor=ctx.account,
        action="consent_change",
        member_id=member_id,
        page=str(request.url.path),
        detail={"purpose": purpose, "channel": channel, "granted": granted},
    )
    uow.commit()
    return RedirectResponse(f"/members/{member_id}", status_code=303)


@router.get("/members/{member_id}/export", response_model=None)
def export_download(
    request: Request,
    uow: UowDep,
    ctx: Annotated[PageContext, Depends(page_require("members.export"))],
    member_id: IdPath,
) -> Response:
    """Download everything held about the member as JSON (audited)."""
    data = queries.member_export_all(uow, member_id=member_id)
    audit_record(
        uow,
        actor=ctx.account,
        action="member_export",
        member_id=member_id,
        page=str(request.url.path),
    )
    uow.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    headers = {"Content-Disposition": f'attachment; filename="member-{member_id}.json"'}
    return Response(body, media_type="application/json", headers=headers)


@router.post("/members/{member_id}/erase", response_model=None)
def erase_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    member_id: IdPath,
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Erase the member's personal data after typing the member id to confirm (audited)."""
    ctx_check(ctx, "members.erase")
    if confirm.strip() != str(member_id):
        error = InvalidInput(_("type the member id to confirm the erasure"), field="confirm")
        return _profile(request, uow, ctx, member_id, error=error, status=422)
    unlinked = service.member_erase(uow, member_id=member_id, actor=ctx.account.username)
    audit_record(
        uow,
        actor=ctx.account,
        action="member_erase",
        member_id=member_id,
        page=str(request.url.path),
        detail=unlinked,
    )
    uow.commit()
    return RedirectResponse(f"/members/{member_id}", status_code=303)


Merger = Annotated[PageContext, Depends(page_require("members.merge"))]


def _merge_page(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    member_id: int,
    *,
    other: str,
    error: DomainError | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The two members side by side (both reads audited), or the error naming the other."""
    survivor = queries.member_get(uow.session, member_id=member_id)
    duplicate = None
    if other and error is None:
        try:
            duplicate = queries.member_by_reference(uow.session, text=other)
            if duplicate.id == survivor.id:
                raise InvalidInput(_("a member cannot be merged into itself"), field="other")
        except DomainError as exc:
            error, status, duplicate = exc, 404 if exc.status_code == 404 else 422, None
    shown = [survivor] if duplicate is None else [survivor, duplicate]
    for member in shown:
        audit_record(
            uow,
            actor=ctx.account,
            action="merge_preview",
            member_id=member.id,
            page=str(request.url.path),
        )
    uow.commit()
    context = {
        "m": queries.member_read(uow.session, survivor),
        "d": None if duplicate is None else queries.member_read(uow.session, duplicate),
        "other": other,
        "candidates": [
            queries.member_summary(c)
            for c in queries.duplicate_candidates(uow.session, member_id=survivor.id)
        ],
        "error": error,
    }
    return page(request, ctx, "members/merge.html", context, status_code=status)


@router.get("/members/{member_id}/merge", response_class=HTMLResponse)
def merge_page(
    request: Request,
    uow: UowDep,
    ctx: Merger,
    member_id: IdPath,
    other: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """Find a duplicate of this member (by mobile, card or id, or among the possible
    duplicates: same name, no other birthday) and compare the two before merging."""
    return _merge_page(request, uow, ctx, member_id, other=other)


@router.post("/members/{member_id}/merge", response_model=None)
def merge_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    member_id: IdPath,
    merged_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Merge the duplicate into this member: its receipts, points and consents move here."""
    ctx_check(ctx, "members.merge")
    try:
        record = service.member_merge(
            uow,
            survivor_id=member_id,
            merged_id=merged_id,
            actor=ctx.account.username,
            reason=reason.strip() or None,
        )
    except DomainError as exc:
        uow.rollback()
        return _merge_page(
            request, uow, ctx, member_id, other=f"#{merged_id}", error=exc, status=exc.status_code
        )
    audit_record(
        uow,
        actor=ctx.account,
        action="member_merge",
        member_id=member_id,
        page=str(request.url.path),
        detail={"merged_id": merged_id, "moved": record.details.get("moved", {})},
    )
    uow.commit()
    return RedirectResponse(f"/members/{member_id}", status_code=303)
