"""Pages of coupons: the coupons part of the points panel (staff profile and member page),
compensation, exchange and void from the profile, the member's own exchange, a lookup page.

Included in :data:`regulars.loyalty.web.router`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from regulars.core.errors import DomainError, Forbidden, InvalidInput
from regulars.core.i18n import _
from regulars.core.reasons import invalid_input
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.loyalty import coupons, programme, queries, rules
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import CouponIssueIn
from regulars.members.portal_web import MemberCsrf
from regulars.members.queries import member_get
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("members.read"))]
SHOWN = 50
ONE_SECOND = timedelta(seconds=1)  # validity ends just before ``valid_to``: show that moment
# Words of coupons shown on pages (codes stored in the database → catalogue ids).
WORDS: dict[str, str] = {
    "issued": _("not used yet"),
    "redeemed": _("used"),
    "expired": _("expired"),
    "void": _("void"),
    "birthday": _("birthday"),
    "points": _("bought with points"),
    "compensation": _("compensation"),
    "amount": _("amount off"),
    "percent": _("percent off"),
    "gift": _("gift"),
    "reward": _("reward"),
    "coupon": _("coupon"),
}


def form_invalid(exc: Exception) -> DomainError:
    """A form error from a domain error or a validation error (naming the field)."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, ValidationError):
        return invalid_input(exc)
    return InvalidInput(_("{where}: {reason}"), where="-", reason=str(exc))


def terms(coupon: Any) -> list[tuple[str, dict[str, Any]]]:
    """A coupon's or a reward's terms as catalogue messages (see :func:`rules.coupon_terms`)."""
    title = coupon.title if isinstance(coupon, MemberCoupon) else coupon.name
    return rules.coupon_terms(
        coupon.kind, coupon.value, coupon.max_discount, coupon.min_spend, title
    )


def qr_data_uri(code: str) -> str:
    """A QR code of a coupon code as an inline SVG image (the till's scanner reads it)."""
    return str(segno.make(code, error="m").svg_data_uri(scale=3, border=2))


def coupons_panel_data(uow: UnitOfWork, *, member_id: int) -> dict[str, Any]:
    """What the coupons part of the points panel shows: coupons, their QR codes, rewards."""
    now = utcnow()
    found = queries.coupons_of_member(uow.session, member_id=member_id, limit=SHOWN)
    states = {c.id: queries.coupon_state(c, now) for c in found}
    usable = {c.id for c in found if states[c.id] == "issued" and c.valid_from <= now}
    rewards = programme.rewards_list(uow, active_only=True)
    return {
        "coupons": found,
        "states": states,
        "qr": {c.id: qr_data_uri(c.code) for c in found if c.id in usable},
        "terms": {c.id: terms(c) for c in found},
        "shown_code": {c.id: rules.coupon_code_display(c.code) for c in found},
        "last_moment": {c.id: c.valid_to - ONE_SECOND for c in found},
        "rewards": rewards,
        "reward_terms": {r.id: terms(r) for r in rewards},
        "words": WORDS,
        "kinds": rules.COUPON_KINDS,
    }


def _back(member_id: int) -> RedirectResponse:
    return RedirectResponse(f"/members/{member_id}#panel-points", status_code=303)


@router.post("/members/{member_id}/coupons", response_model=None)
async def compensation_submit(
    request: Request, uow: UowDep, ctx: Csrf, member_id: IdPath
) -> Response:
    """Issue a coupon as compensation from the profile; the reason is mandatory and audited."""
    if not ctx.can("loyalty.adjust"):
        raise Forbidden(_("your role may not do this"))
    member_get(uow.session, member_id=member_id)
    form = await request.form()
    values = {
        name: str(form.get(name, "")).strip()
        for name in ("kind", "value", "min_spend", "max_discount", "valid_days", "title", "reason")
        if str(form.get(name, "")).strip()
    }
    try:
        data = CouponIssueIn(**values)
    except ValidationError as exc:
        raise form_invalid(exc) from exc
    coupon = coupons.coupon_compensate(
        uow, member_id=member_id, data=data, actor=ctx.account.username
    )
    audit_record(
        uow,
        actor=ctx.account,
        action="coupon_compensate",
        member_id=member_id,
        page=str(request.url.path),
        detail={"coupon_id": coupon.id, **data.model_dump(mode="json")},
    )
    uow.commit()
    return _back(member_id)


@router.post("/members/{member_id}/coupons/exchange", response_model=None)
def exchange_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    member_id: IdPath,
    reward_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
) -> Response:
    """Exchange the member's points for a reward, at the service desk."""
    if not ctx.can("loyalty.adjust"):
        raise Forbidden(_("your role may not do this"))
    member_get(uow.session, member_id=member_id)
    coupon = coupons.coupon_exchange(
        uow, member_id=member_id, reward_id=reward_id, actor=ctx.account.username
    )
    audit_record(
        uow,
        actor=ctx.account,
        action="coupon_exchange",
        member_id=member_id,
        page=str(request.url.path),
        detail={"coupon_id": coupon.id, "reward_id": reward_id},
    )
    uow.commit()
    return _back(member_id)


@router.post("/members/{member_id}/coupons/{coupon_id}/void", response_model=None)
def void_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    member_id: IdPath,
    coupon_id: IdPath,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Void one of the member's unused coupons with a reason (audited)."""
    if not ctx.can("loyalty.adjust"):
        raise Forbidden(_("your role may not do this"))
    member_get(uow.session, member_id=member_id)
    found = uow.session.get(MemberCoupon, coupon_id)
    if found is None or found.member_id != member_id:
        raise InvalidInput(_("coupon {id} not found"), field="coupon_id", id=coupon_id)
    coupons.coupon_void(uow, coupon_id=coupon_id, reason=reason, actor=ctx.account.username)
    audit_record(
        uow,
        actor=ctx.account,
        action="coupon_void",
        member_id=member_id,
        page=str(request.url.path),
        detail={"coupon_id": coupon_id, "reason": reason},
    )
    uow.commit()
    return _back(member_id)


@router.get("/loyalty/coupons", response_class=HTMLResponse)
def coupons_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    code: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(pattern="^(|issued|redeemed|expired|void)$")] = "",
) -> HTMLResponse:
    """Look a coupon up by its code, or see the newest coupons of every member."""
    now = utcnow()
    if code.strip():
        one = queries.coupon_by_code(uow.session, code=code)
        found = [one] if one is not None else []
    else:
        found = queries.coupons_recent(uow.session, status=status or None, limit=SHOWN * 2)
    data = {
        "coupons": found,
        "states": {c.id: queries.coupon_state(c, now) for c in found},
        "terms": {c.id: terms(c) for c in found},
        "shown_code": {c.id: rules.coupon_code_display(c.code) for c in found},
        "last_moment": {c.id: c.valid_to - ONE_SECOND for c in found},
        "words": WORDS,
        "code": code,
        "status": status,
        "searched": bool(code.strip()),
    }
    return page(request, ctx, "loyalty/coupons.html", data)


@router.post("/m/me/coupons", response_model=None)
def member_exchange(
    request: Request,
    uow: UowDep,
    ctx: MemberCsrf,
    reward_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
) -> Response:
    """The member exchanges their own points for a reward on the member page."""
    member_id = ctx.member.id
    coupon = coupons.coupon_exchange(
        uow, member_id=member_id, reward_id=reward_id, actor=f"member:{member_id}"
    )
    audit_record(
        uow,
        actor=f"member:{member_id}",
        action="coupon_exchange",
        member_id=member_id,
        page=str(request.url.path),
        detail={"coupon_id": coupon.id, "reward_id": reward_id},
    )
    uow.commit()
    return RedirectResponse("/m/me#panel-points", status_code=303)
