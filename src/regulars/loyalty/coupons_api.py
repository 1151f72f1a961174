"""Staff API of coupons: the rewards catalogue, a member's coupons, compensation, exchange, void.

Its routes are part of :data:`regulars.loyalty.api.router`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from regulars.core.timeutil import utcnow
from regulars.core.web import IdPath, UowDep
from regulars.loyalty import coupons, programme, queries
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import (
    CouponExchangeIn,
    CouponIssueIn,
    CouponRead,
    CouponVoidIn,
    RewardCreate,
    RewardRead,
    RewardUpdate,
)
from regulars.members.queries import member_get
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["loyalty"])
Reader = Annotated[StaffAccount, Depends(require("members.read"))]
Configurer = Annotated[StaffAccount, Depends(require("loyalty.configure"))]
Adjuster = Annotated[StaffAccount, Depends(require("loyalty.adjust"))]
Status = Annotated[str | None, Query(pattern="^(issued|redeemed|expired|void)$")]


def coupon_read(coupon: MemberCoupon) -> CouponRead:
    """A coupon as the API shows it: an unused coupon past its date reads ``expired``."""
    read = CouponRead.model_validate(coupon)
    return read.model_copy(update={"status": queries.coupon_state(coupon, utcnow())})


@router.get("/loyalty/rewards", response_model=list[RewardRead])
def get_rewards(uow: UowDep, _who: Reader) -> list[RewardRead]:
    """The rewards catalogue: what members can get for their points."""
    read = [RewardRead.model_validate(r) for r in programme.rewards_list(uow)]
    uow.commit()  # keeps the default programme seeded on first use
    return read


@router.post("/loyalty/rewards", response_model=RewardRead, status_code=201)
def post_reward(uow: UowDep, data: RewardCreate, who: Configurer) -> RewardRead:
    """Add a reward to the catalogue."""
    reward = programme.reward_create(uow, data=data)
    audit_record(
        uow, actor=who, action="loyalty_reward_create", detail=data.model_dump(mode="json")
    )
    read = RewardRead.model_validate(reward)
    uow.commit()
    return read


@router.patch("/loyalty/rewards/{reward_id}", response_model=RewardRead)
def patch_reward(uow: UowDep, reward_id: IdPath, data: RewardUpdate, who: Configurer) -> RewardRead:
    """Change a reward; ``active: false`` retires it (coupons issued keep their terms)."""
    reward = programme.reward_update(uow, reward_id=reward_id, data=data)
    audit_record(
        uow,
        actor=who,
        action="loyalty_reward_update",
        detail={"reward_id": reward_id, **data.model_dump(mode="json", exclude_unset=True)},
    )
    read = RewardRead.model_validate(reward)
    uow.commit()
    return read


@router.get("/members/{member_id}/coupons", response_model=list[CouponRead])
def get_member_coupons(uow: UowDep, member_id: IdPath, _who: Reader) -> list[CouponRead]:
    """A member's coupons, newest first, with their state."""
    member_get(uow.session, member_id=member_id)
    return [coupon_read(c) for c in queries.coupons_of_member(uow.session, member_id=member_id)]


@router.post("/members/{member_id}/coupons", response_model=CouponRead, status_code=201)
def post_compensation(
    uow: UowDep, member_id: IdPath, data: CouponIssueIn, who: Adjuster
) -> CouponRead:
    """Issue a coupon as compensation; the reason is mandatory and audited."""
    member_get(uow.session, member_id=member_id)
    coupon = coupons.coupon_compensate(uow, member_id=member_id, data=data, actor=who.username)
    audit_record(
        uow,
        actor=who,
        action="coupon_compensate",
        member_id=member_id,
        detail={"coupon_id": coupon.id, **data.model_dump(mode="json")},
    )
    read = coupon_read(coupon)
    uow.commit()
    return read


@router.post("/members/{member_id}/coupons/exchange", response_model=CouponRead, status_code=201)
def post_exchange(
    uow: UowDep, member_id: IdPath, data: CouponExchangeIn, who: Adjuster
) -> CouponRead:
    """Exchange a member's points for a reward of the catalogue (a redeem line and a coupon)."""
    member_get(uow.session, member_id=member_id)
    coupon = coupons.coupon_exchange(
        uow,
        member_id=member_id,
        reward_id=data.reward_id,
        reward_code=data.reward_code,
        actor=who.username,
    )
    audit_record(
        uow,
        actor=who,
        action="coupon_exchange",
        member_id=member_id,
        detail={"coupon_id": coupon.id, "reward_id": coupon.reward_id},
    )
    read = coupon_read(coupon)
    uow.commit()
    return read


@router.post("/coupons/{coupon_id}/void", response_model=CouponRead)
def post_void(uow: UowDep, coupon_id: IdPath, data: CouponVoidIn, who: Adjuster) -> CouponRead:
    """Void an unused coupon with a reason (audited); points paid for it come back."""
    coupon = coupons.coupon_void(uow, coupon_id=coupon_id, reason=data.reason, actor=who.username)
    audit_record(
        uow,
        actor=who,
        action="coupon_void",
        member_id=coupon.member_id,
        detail={"coupon_id": coupon_id, "reason": data.reason},
    )
    read = coupon_read(coupon)
    uow.commit()
    return read


@router.get("/coupons", response_model=list[CouponRead])
def get_coupons(
    uow: UowDep,
    _who: Reader,
    code: Annotated[str | None, Query(min_length=4, max_length=32)] = None,
    status: Status = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CouponRead]:
    """Find a coupon by its code, or list the newest coupons (optionally in one state)."""
    if code:
        found = queries.coupon_by_code(uow.session, code=code)
        return [coupon_read(found)] if found is not None else []
    return [coupon_read(c) for c in queries.coupons_recent(uow.session, status=status, limit=limit)]
