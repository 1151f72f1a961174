"""Staff pages of loyalty: the programme and its rewards, a member's points panel (with the
member's coupons), adjustments, bulk grants. Coupon pages are in
:mod:`regulars.loyalty.coupons_web`, whose routes this router includes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from regulars.core.errors import DomainError, Forbidden, InvalidInput
from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.loyalty import programme, queries, service
from regulars.loyalty.coupons_api import coupon_read
from regulars.loyalty.coupons_web import WORDS, coupons_panel_data, form_invalid, terms
from regulars.loyalty.coupons_web import router as coupon_pages
from regulars.loyalty.grants import parse_grants
from regulars.loyalty.models import LoyaltyMultiplier, LoyaltyTier, PointsLine
from regulars.loyalty.schemas import (
    MultiplierIn,
    PointsLineRead,
    ProgrammeUpdate,
    RewardCreate,
    RewardUpdate,
    TierIn,
)
from regulars.members.extensions import Panel
from regulars.members.queries import member_get
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Configurer = Annotated[PageContext, Depends(page_require("loyalty.configure"))]
HISTORY = 30
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PointsExtension:
    """The points panel on the profile and the ledger in a PIPL export."""

    key = "points"

    def panel(
        self, uow: UnitOfWork, *, member_id: int, store_ids: Collection[int] | None = None
    ) -> Panel:
        """Balance, pending and expiring points, tier progress, coupons, the newest lines."""
        summary = queries.points_summary(uow, member_id=member_id)
        history = queries.points_history(uow.session, member_id=member_id, limit=HISTORY)
        data = {
            "summary": summary,
            "history": history,
            "member_id": member_id,
            **coupons_panel_data(uow, member_id=member_id),
        }
        return Panel(
            key=self.key, title=_("Points"), template="loyalty/points_panel.html", data=data
        )

    def export(self, uow: UnitOfWork, *, member_id: int) -> dict[str, Any]:
        """The member's summary and every ledger line."""
        lines = uow.session.scalars(
            select(PointsLine).where(PointsLine.member_id == member_id).order_by(PointsLine.id)
        )
        return {
            "summary": queries.points_summary(uow, member_id=member_id).model_dump(mode="json"),
            "ledger": [
                PointsLineRead.model_validate(line).model_dump(mode="json") for line in lines
            ],
            "coupons": [
                coupon_read(c).model_dump(mode="json")
                for c in queries.coupons_of_member(uow.session, member_id=member_id, limit=10_000)
            ],
        }


def _programme_page(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    *,
    error: DomainError | None = None,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    current = programme.programme_get(uow)
    tiers = list(
        uow.session.scalars(
            select(LoyaltyTier)
            .where(LoyaltyTier.programme_id == current.id)
            .order_by(LoyaltyTier.rank)
        )
    )
    multipliers = list(
        uow.session.scalars(
            select(LoyaltyMultiplier)
            .where(LoyaltyMultiplier.programme_id == current.id)
            .order_by(LoyaltyMultiplier.id)
        )
    )
    rewards = programme.rewards_list(uow)
    data = {
        "p": current,
        "tiers": tiers,
        "multipliers": multipliers,
        "rewards": rewards,
        "reward_terms": {r.id: terms(r) for r in rewards},
        "words": WORDS,
        "weekdays": WEEKDAYS,
        "error": error,
        "done": done,
    }
    return page(request, ctx, "loyalty/programme.html", data, status_code=status)


@router.get("/loyalty", response_class=HTMLResponse)
def programme_page(request: Request, uow: UowDep, ctx: Configurer) -> HTMLResponse:
    """The points programme: earning, redemption, expiry, tiers and multipliers."""
    response = _programme_page(request, uow, ctx)
    uow.commit()  # the default programme is created on first use
    return response


@router.post("/loyalty/programme", response_class=HTMLResponse)
async def programme_save(request: Request, uow: UowDep, ctx: Csrf) -> HTMLResponse:
    """Save the programme settings."""
    if not ctx.can("loyalty.configure"):
        raise Forbidden(_("your role may not do this"))
    form = await request.form()
    fields = (
        "name",
        "points_per_unit",
        "min_spend",
        "first_purchase_bonus",
        "birthday_bonus",
        "redeem_points_per_unit",
        "min_redemption",
        "expiry_policy",
        "expiry_months",
        "pending_days",
        "debt_policy",
        "birthday_coupon_value",
        "birthday_coupon_min_spend",
    )
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip() for name in fields if str(form.get(name, "")).strip()
    }
    values["active"] = form.get("active") == "on"
    values["member_days"] = {
        day: str(form.get(f"day_{day}")).strip()
        for day in WEEKDAYS
        if str(form.get(f"day_{day}", "")).strip()
    }
    try:
        programme.programme_update(uow, data=ProgrammeUpdate(**values))
    except (DomainError, ValueError) as exc:
        uow.rollback()
        return _programme_page(request, uow, ctx, error=form_invalid(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="loyalty_programme",
        page="/loyalty",
        detail={"fields": sorted(values)},
    )
    uow.commit()
    return _programme_page(request, uow, ctx, done=_("The programme is saved."))


def _rows(text: str) -> list[list[str]]:
    """Lines of comma-separated cells (a small table typed into a text box)."""
    return [
        [cell.strip() for cell in line.replace("，", ",").split(",")]
        for line in text.splitlines()
        if line.strip()
    ]


@router.post("/loyalty/tiers", response_class=HTMLResponse)
def tiers_save(
    request: Request, uow: UowDep, ctx: Csrf, tiers: Annotated[str, Form(max_length=5000)]
) -> HTMLResponse:
    """Replace the tiers: one per line, ``code, name, 12-month spend, multiplier``."""
    if not ctx.can("loyalty.configure"):
        raise Forbidden(_("your role may not do this"))
    try:
        items = [
            TierIn(code=r[0], name=r[1], threshold=r[2], multiplier=r[3]) for r in _rows(tiers)
        ]
        programme.tiers_replace(uow, tiers=items)
    except (DomainError, ValueError, IndexError) as exc:
        uow.rollback()
        return _programme_page(request, uow, ctx, error=form_invalid(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="loyalty_tiers",
        page="/loyalty",
        detail={"tiers": [t.code for t in items]},
    )
    uow.commit()
    return _programme_page(request, uow, ctx, done=_("The tiers are saved."))


@router.post("/loyalty/multipliers", response_class=HTMLResponse)
def multipliers_save(
    request: Request, uow: UowDep, ctx: Csrf, rules: Annotated[str, Form(max_length=20000)] = ""
) -> HTMLResponse:
    """Replace the earning multipliers: one per line, ``target, value, multiplier``."""
    if not ctx.can("loyalty.configure"):
        raise Forbidden(_("your role may not do this"))
    try:
        items = [MultiplierIn(target=r[0], value=r[1], multiplier=r[2]) for r in _rows(rules)]
        programme.multipliers_replace(uow, rules=items)
    except (DomainError, ValueError, IndexError) as exc:
        uow.rollback()
        return _programme_page(request, uow, ctx, error=form_invalid(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="loyalty_multipliers",
        page="/loyalty",
        detail={"count": len(items)},
    )
    uow.commit()
    return _programme_page(request, uow, ctx, done=_("The multipliers are saved."))


@router.post("/loyalty/rewards", response_class=HTMLResponse)
async def reward_save(request: Request, uow: UowDep, ctx: Csrf) -> HTMLResponse:
    """Add a reward to the catalogue, or change the one with the same code."""
    if not ctx.can("loyalty.configure"):
        raise Forbidden(_("your role may not do this"))
    form = await request.form()
    fields = ("code", "name", "kind", "points", "value", "max_discount", "min_spend")
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip() for name in fields if str(form.get(name, "")).strip()
    }
    for name in ("valid_days", "stock"):
        if str(form.get(name, "")).strip():
            values[name] = str(form.get(name)).strip()
    values["active"] = form.get("active") == "on"
    try:
        existing = programme.reward_by_code(uow, code=str(values.get("code", "")))
        if existing is None:
            reward = programme.reward_create(uow, data=RewardCreate(**values))
        else:
            values.pop("code")
            values.setdefault("stock", None)  # an empty box: unlimited
            values.setdefault("max_discount", None)
            changes = RewardUpdate(**values)
            reward = programme.reward_update(uow, reward_id=existing.id, data=changes)
    except (DomainError, ValueError) as exc:
        uow.rollback()
        return _programme_page(request, uow, ctx, error=form_invalid(exc), status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="loyalty_reward_save",
        page="/loyalty",
        detail={"reward_id": reward.id, "code": reward.code, "fields": sorted(values)},
    )
    uow.commit()
    return _programme_page(request, uow, ctx, done=_("The reward is saved."))


@router.post("/members/{member_id}/points", response_model=None)
def points_adjust_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    member_id: IdPath,
    points: Annotated[str, Form(max_length=12)],
    kind: Annotated[str, Form(max_length=12)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Adjust or compensate a member's points; the reason is mandatory and audited."""
    if not ctx.can("loyalty.adjust"):
        raise Forbidden(_("your role may not do this"))
    member_get(uow.session, member_id=member_id)
    try:
        amount = int(points)
    except ValueError as exc:
        raise InvalidInput(
            _("{where}: {reason}"), field="points", where="points", reason=str(exc)
        ) from exc
    line = service.points_adjust(
        uow,
        member_id=member_id,
        points=amount,
        kind=kind,
        reason=reason,
        actor=ctx.account.username,
    )
    audit_record(
        uow,
        actor=ctx.account,
        action="points_" + kind,
        member_id=member_id,
        page=str(request.url.path),
        detail={"points": amount, "reason": reason, "line": line.id},
    )
    uow.commit()
    return RedirectResponse(f"/members/{member_id}", status_code=303)


@router.get("/loyalty/grants", response_class=HTMLResponse)
def grants_page(
    request: Request, ctx: Annotated[PageContext, Depends(page_require("loyalty.adjust"))]
) -> HTMLResponse:
    """Grant points to a list of members, or load opening balances, from a CSV file."""
    return page(request, ctx, "loyalty/grants.html", {"result": None, "error": None})


@router.post("/loyalty/grants", response_class=HTMLResponse)
async def grants_submit(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    reason: Annotated[str, Form(max_length=500)],
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=12)] = "adjust",
) -> HTMLResponse:
    """Apply a grant file: good rows are granted with one reason, bad rows are listed."""
    if not ctx.can("loyalty.adjust"):
        raise Forbidden(_("your role may not do this"))
    grants, bad = parse_grants(uow, await file.read(20 * 2**20))
    try:
        lines = service.points_grant_many(
            uow, grants=grants, reason=reason, actor=ctx.account.username, kind=kind
        )
    except DomainError as exc:
        uow.rollback()
        return page(
            request, ctx, "loyalty/grants.html", {"result": None, "error": exc}, status_code=422
        )
    audit_record(
        uow,
        actor=ctx.account,
        action="points_grant_file",
        page="/loyalty/grants",
        detail={"granted": len(lines), "bad": len(bad), "reason": reason},
    )
    uow.commit()
    return page(
        request,
        ctx,
        "loyalty/grants.html",
        {"result": {"granted": len(lines), "bad": bad}, "error": None},
    )


router.include_router(coupon_pages)
