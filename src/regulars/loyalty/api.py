"""Staff API of the loyalty domain: programme, tiers, multipliers, a member's points, grant
files.

Coupons and the rewards catalogue are in :mod:`regulars.loyalty.coupons_api`, whose routes
this router includes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from sqlalchemy import select

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _, translate
from regulars.core.web import IdPath, UowDep, get_locale
from regulars.loyalty import programme, queries, service
from regulars.loyalty.coupons_api import router as coupons_router
from regulars.loyalty.grants import parse_grants
from regulars.loyalty.models import LoyaltyMultiplier, LoyaltyTier
from regulars.loyalty.schemas import (
    AdjustIn,
    GrantRowRead,
    GrantsResult,
    MultiplierIn,
    MultiplierRead,
    PointsLineRead,
    PointsSummary,
    ProgrammeRead,
    ProgrammeUpdate,
    TierIn,
    TierRead,
)
from regulars.members.queries import member_get
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["loyalty"])
Reader = Annotated[StaffAccount, Depends(require("members.read"))]
Configurer = Annotated[StaffAccount, Depends(require("loyalty.configure"))]
Adjuster = Annotated[StaffAccount, Depends(require("loyalty.adjust"))]
MAX_GRANT_FILE = 20 * 2**20  # what the grants page reads


def _tiers(uow: UowDep) -> list[TierRead]:
    found = programme.programme_get(uow)
    return [
        TierRead.model_validate(t)
        for t in uow.session.scalars(
            select(LoyaltyTier)
            .where(LoyaltyTier.programme_id == found.id)
            .order_by(LoyaltyTier.rank)
        )
    ]


def _multipliers(uow: UowDep) -> list[MultiplierRead]:
    found = programme.programme_get(uow)
    return [
        MultiplierRead.model_validate(m)
        for m in uow.session.scalars(
            select(LoyaltyMultiplier)
            .where(LoyaltyMultiplier.programme_id == found.id)
            .order_by(LoyaltyMultiplier.id)
        )
    ]


@router.get("/loyalty/programme", response_model=ProgrammeRead)
def get_programme(uow: UowDep, _who: Reader) -> ProgrammeRead:
    """The points programme's settings."""
    read = ProgrammeRead.model_validate(programme.programme_get(uow))
    uow.commit()  # keeps the defaults seeded on first use
    return read


@router.put("/loyalty/programme", response_model=ProgrammeRead)
def put_programme(uow: UowDep, data: ProgrammeUpdate, who: Configurer) -> ProgrammeRead:
    """Change the programme's settings (fields left out keep their value)."""
    changed = programme.programme_update(uow, data=data)
    audit_record(
        uow,
        actor=who,
        action="loyalty_programme_update",
        detail=data.model_dump(mode="json", exclude_unset=True),
    )
    read = ProgrammeRead.model_validate(changed)
    uow.commit()
    return read


@router.get("/loyalty/tiers", response_model=list[TierRead])
def get_tiers(uow: UowDep, _who: Reader) -> list[TierRead]:
    """The tiers, lowest first."""
    read = _tiers(uow)
    uow.commit()
    return read


@router.put("/loyalty/tiers", response_model=list[TierRead])
def put_tiers(uow: UowDep, data: list[TierIn], who: Configurer) -> list[TierRead]:
    """Replace the tiers; the lowest must start at a spend of 0."""
    programme.tiers_replace(uow, tiers=data)
    audit_record(
        uow,
        actor=who,
        action="loyalty_tiers_replace",
        detail={"tiers": [t.model_dump(mode="json") for t in data]},
    )
    read = _tiers(uow)
    uow.commit()
    return read


@router.get("/loyalty/multipliers", response_model=list[MultiplierRead])
def get_multipliers(uow: UowDep, _who: Reader) -> list[MultiplierRead]:
    """The earning multiplier rules."""
    read = _multipliers(uow)
    uow.commit()
    return read


@router.put("/loyalty/multipliers", response_model=list[MultiplierRead])
def put_multipliers(uow: UowDep, data: list[MultiplierIn], who: Configurer) -> list[MultiplierRead]:
    """Replace the earning multiplier rules."""
    programme.multipliers_replace(uow, rules=data)
    audit_record(
        uow,
        actor=who,
        action="loyalty_multipliers_replace",
        detail={"rules": [r.model_dump(mode="json") for r in data]},
    )
    read = _multipliers(uow)
    uow.commit()
    return read


@router.get("/members/{member_id}/points", response_model=PointsSummary)
def get_points(uow: UowDep, member_id: IdPath, _who: Reader) -> PointsSummary:
    """A member's points: available, pending, expiring soon, tier and progress to the next."""
    summary = queries.points_summary(uow, member_id=member_id)
    uow.commit()
    return summary


@router.get("/members/{member_id}/points/history", response_model=list[PointsLineRead])
def get_points_history(
    uow: UowDep,
    member_id: IdPath,
    _who: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PointsLineRead]:
    """Every ledger line of a member, newest first, each with its reason."""
    member_get(uow.session, member_id=member_id)
    return [
        PointsLineRead.model_validate(line)
        for line in queries.points_history(
            uow.session, member_id=member_id, limit=limit, offset=offset
        )
    ]


@router.post(
    "/members/{member_id}/points/adjustments", response_model=PointsLineRead, status_code=201
)
def post_adjustment(
    uow: UowDep, member_id: IdPath, data: AdjustIn, who: Adjuster
) -> PointsLineRead:
    """Adjust or compensate a member's points with a mandatory reason (audited)."""
    member_get(uow.session, member_id=member_id)
    line = service.points_adjust(
        uow,
        member_id=member_id,
        points=data.points,
        kind=data.kind,
        reason=data.reason,
        actor=who.username,
    )
    audit_record(
        uow,
        actor=who,
        action=f"loyalty_{data.kind}",
        member_id=member_id,
        detail={"points": data.points, "reason": data.reason, "line_id": line.id},
    )
    read = PointsLineRead.model_validate(line)
    uow.commit()
    return read


@router.post("/points/grants", response_model=GrantsResult)
def post_grants(
    request: Request,
    uow: UowDep,
    file: UploadFile,
    reason: Annotated[str, Form(max_length=500)],
    who: Adjuster,
    kind: Annotated[Literal["adjust", "compensate"], Form()] = "adjust",
) -> GrantsResult:
    """Grant points from a CSV file (``member_id`` or ``card_no``, ``points``), one reason.

    As the grants page and ``regulars points grant``: good rows are granted, bad rows come
    back with their line and reason (in the caller's language); a grant the ledger refuses
    (points to take that a member does not hold) grants nothing.
    """
    if not reason.strip():
        # Checked here too: a file of bad rows alone never reaches the ledger's check.
        raise InvalidInput(_("a reason is required"), field="reason")
    raw = file.file.read(MAX_GRANT_FILE + 1)
    if len(raw) > MAX_GRANT_FILE:
        raise InvalidInput(
            _("the file is larger than {size} bytes"), field="file", size=MAX_GRANT_FILE
        )
    if not raw:
        raise InvalidInput(_("the file is empty"), field="file")
    try:
        raw.decode("utf-8")  # refused here naming the file, not as bad rows
    except UnicodeDecodeError as exc:
        raise InvalidInput(_("the file is not UTF-8 text"), field="file") from exc
    grants, bad = parse_grants(uow, raw)
    lines = service.points_grant_many(
        uow, grants=grants, reason=reason, actor=who.username, kind=kind
    )
    audit_record(
        uow,
        actor=who,
        action="points_grant_file",
        page=str(request.url.path),
        detail={"granted": len(lines), "bad": len(bad), "reason": reason},
    )
    uow.commit()
    locale = get_locale(request)
    return GrantsResult(
        granted=len(lines),
        bad=[
            GrantRowRead(line=line, reason=translate(message, locale, **params))
            for line, message, params in bad
        ],
    )


# The coupon routes carry their own /api/v1 prefix; adding them as routes (rather than a
# nested router) keeps every route's path the real one for whoever walks the app's routes.
router.routes.extend(coupons_router.routes)
