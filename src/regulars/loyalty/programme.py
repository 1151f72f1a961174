"""The programme's settings, tiers, multiplier rules and rewards: seeding, caching, changes.

The till reads the programme on every receipt, so a process keeps an immutable
:class:`ProgrammeView` per ``revision`` (renewed by every change). The till learns the
current revision in the statement that locks the member's account, so a change made by
another process is seen from the next receipt on, at no extra round trip.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regulars.core.errors import Conflict, InvalidInput, NotFound
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty.models import LoyaltyMultiplier, LoyaltyProgramme, LoyaltyReward, LoyaltyTier
from regulars.loyalty.rules import Rule, TierRule, coupon_terms_check
from regulars.loyalty.schemas import (
    MultiplierIn,
    ProgrammeUpdate,
    RewardCreate,
    RewardUpdate,
    TierIn,
)

PROGRAMME_CODE = "default"

# Sensible defaults for a Chinese supermarket: 1 point per ¥1, 100 points = ¥1, points
# pending through a 7-day return window, expiring 24 months after earning, and a return
# whose points were spent clawed back from the rest of the balance (debt for the remainder).
DEFAULTS: dict[str, Any] = {
    "name": "会员积分",
    "active": True,
    "points_per_unit": Decimal("1"),
    "min_spend": Decimal("0"),
    "member_days": {},
    "first_purchase_bonus": 0,
    "birthday_bonus": 0,
    "redeem_points_per_unit": 100,
    "min_redemption": 100,
    "expiry_policy": "months",
    "expiry_months": 24,
    "pending_days": 7,
    "debt_policy": "claw_back",
    "birthday_coupon_value": Decimal("10"),
    "birthday_coupon_min_spend": Decimal("50"),
}
DEFAULT_TIERS: tuple[tuple[str, str, Decimal, Decimal], ...] = (
    ("standard", "普通", Decimal("0"), Decimal("1")),
    ("silver", "银卡", Decimal("2000"), Decimal("1.2")),
    ("gold", "金卡", Decimal("8000"), Decimal("1.5")),
    ("platinum", "白金卡", Decimal("20000"), Decimal("2")),
)


@dataclass(frozen=True)
class Config:
    """The programme's rules and tiers as plain values (cached per revision)."""

    rules: tuple[Rule, ...]
    tiers: tuple[TierRule, ...]

    @property
    def needs_products(self) -> bool:
        """Whether any rule looks at a product's category, brand or tags."""
        return any(rule.target != "product" for rule in self.rules)

    def tier(self, code: str) -> TierRule:
        """The tier named ``code`` (the lowest one if the code is unknown)."""
        for tier in self.tiers:
            if tier.code == code:
                return tier
        return self.lowest

    @property
    def lowest(self) -> TierRule:
        """The entry tier."""
        return min(self.tiers, key=lambda t: t.rank)


@dataclass(frozen=True)
class ProgrammeView:
    """The programme's settings with its rules and tiers, as plain values of one revision."""

    id: int
    revision: str
    active: bool
    points_per_unit: Decimal
    min_spend: Decimal
    member_days: dict[str, str]
    first_purchase_bonus: int
    birthday_bonus: int
    redeem_points_per_unit: int
    min_redemption: int
    expiry_policy: str
    expiry_months: int
    pending_days: int
    debt_policy: str
    birthday_coupon_value: Decimal
    birthday_coupon_min_spend: Decimal
    updated_at: datetime
    config: Config


_cache: dict[str, Config] = {}
_views: dict[str, ProgrammeView] = {}
_cache_lock = threading.Lock()


def _new_revision() -> str:
    return uuid.uuid4().hex


def programme_seed(uow: UnitOfWork) -> LoyaltyProgramme:
    """Create the default programme and tiers unless another transaction already did."""
    builder = (
        postgresql.insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = (
        builder(LoyaltyProgramme)
        .values(code=PROGRAMME_CODE, revision=_new_revision(), updated_at=utcnow(), **DEFAULTS)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(LoyaltyProgramme.id)
    )
    new_id = uow.session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        for rank, (code, name, threshold, multiplier) in enumerate(DEFAULT_TIERS):
            uow.session.add(
                LoyaltyTier(
                    programme_id=new_id,
                    code=code,
                    name=name,
                    rank=rank,
                    threshold=threshold,
                    multiplier=multiplier,
                )
            )
        uow.flush()
    found = uow.session.scalars(
        select(LoyaltyProgramme).where(LoyaltyProgramme.code == PROGRAMME_CODE)
    ).one()
    return found


def programme_get(uow: UnitOfWork) -> LoyaltyProgramme:
    """The programme, seeded with the defaults on first use."""
    found = uow.session.scalars(
        select(LoyaltyProgramme).where(LoyaltyProgramme.code == PROGRAMME_CODE)
    ).first()
    return found if found is not None else programme_seed(uow)


def programme_config(session: Session, programme: LoyaltyProgramme) -> Config:
    """The programme's rules and tiers, read once per revision and cached."""
    cached = _cache.get(programme.revision)
    if cached is not None:
        return cached
    rules = tuple(
        Rule(target=r.target, value=r.value, multiplier=r.multiplier)
        for r in session.scalars(
            select(LoyaltyMultiplier)
            .where(LoyaltyMultiplier.programme_id == programme.id)
            .order_by(LoyaltyMultiplier.id)
        )
    )
    tiers = tuple(
        TierRule(
            code=t.code, name=t.name, rank=t.rank, threshold=t.threshold, multiplier=t.multiplier
        )
        for t in session.scalars(
            select(LoyaltyTier)
            .where(LoyaltyTier.programme_id == programme.id)
            .order_by(LoyaltyTier.rank)
        )
    )
    config = Config(rules=rules, tiers=tiers)
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[programme.revision] = config
    return config


def programme_view(uow: UnitOfWork, *, revision: str | None = None) -> ProgrammeView:
    """The programme as plain values; read from the database only for an unseen revision.

    ``revision`` is the current revision when the caller already knows it (the till reads
    it with the account lock); without it the programme row is read to learn it.
    """
    if revision is not None:
        cached = _views.get(revision)
        if cached is not None:
            return cached
    programme = programme_get(uow)
    cached = _views.get(programme.revision)
    if cached is not None:
        return cached
    view = ProgrammeView(
        id=programme.id,
        revision=programme.revision,
        active=programme.active,
        points_per_unit=programme.points_per_unit,
        min_spend=programme.min_spend,
        member_days=dict(programme.member_days or {}),
        first_purchase_bonus=programme.first_purchase_bonus,
        birthday_bonus=programme.birthday_bonus,
        redeem_points_per_unit=programme.redeem_points_per_unit,
        min_redemption=programme.min_redemption,
        expiry_policy=programme.expiry_policy,
        expiry_months=programme.expiry_months,
        pending_days=programme.pending_days,
        debt_policy=programme.debt_policy,
        birthday_coupon_value=programme.birthday_coupon_value,
        birthday_coupon_min_spend=programme.birthday_coupon_min_spend,
        updated_at=programme.updated_at,
        config=programme_config(uow.session, programme),
    )
    with _cache_lock:
        if len(_views) > 64:
            _views.clear()
        _views[programme.revision] = view
    return view


def _touch(programme: LoyaltyProgramme) -> None:
    programme.revision = _new_revision()
    programme.updated_at = utcnow()


def programme_update(uow: UnitOfWork, *, data: ProgrammeUpdate) -> LoyaltyProgramme:
    """Change the settings present in ``data``."""
    programme = programme_get(uow)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "member_days" and value is not None:
            value = {str(day): str(factor) for day, factor in value.items()}
        if value is not None:
            setattr(programme, name, value)
    _touch(programme)
    uow.flush()
    return programme


def tiers_replace(uow: UnitOfWork, *, tiers: list[TierIn]) -> list[LoyaltyTier]:
    """Replace the tiers; ranks follow the thresholds and the lowest must start at 0."""
    ordered = sorted(tiers, key=lambda t: t.threshold)
    if len({t.code for t in tiers}) != len(tiers):
        raise InvalidInput(_("tier codes must be unique"), field="tiers")
    if not ordered or ordered[0].threshold != 0:
        raise InvalidInput(_("the lowest tier must start at a spend of 0"), field="tiers")
    programme = programme_get(uow)
    uow.session.execute(delete(LoyaltyTier).where(LoyaltyTier.programme_id == programme.id))
    made = [
        LoyaltyTier(
            programme_id=programme.id,
            code=t.code,
            name=t.name,
            rank=rank,
            threshold=t.threshold,
            multiplier=t.multiplier,
        )
        for rank, t in enumerate(ordered)
    ]
    uow.session.add_all(made)
    _touch(programme)
    uow.flush()
    return made


def multipliers_replace(uow: UnitOfWork, *, rules: list[MultiplierIn]) -> list[LoyaltyMultiplier]:
    """Replace the earning multiplier rules."""
    programme = programme_get(uow)
    uow.session.execute(
        delete(LoyaltyMultiplier).where(LoyaltyMultiplier.programme_id == programme.id)
    )
    made = [
        LoyaltyMultiplier(
            programme_id=programme.id, target=r.target, value=r.value, multiplier=r.multiplier
        )
        for r in rules
    ]
    uow.session.add_all(made)
    _touch(programme)
    uow.flush()
    return made


# --- the rewards catalogue ---------------------------------------------------------------


def reward_get(uow: UnitOfWork, *, reward_id: int) -> LoyaltyReward:
    """A reward of the catalogue by id, or ``NotFound``."""
    reward = uow.session.get(LoyaltyReward, reward_id)
    if reward is None:
        raise NotFound(_("reward {id} not found"), field="reward_id", id=reward_id)
    return reward


def reward_by_code(uow: UnitOfWork, *, code: str) -> LoyaltyReward | None:
    """The programme's reward with ``code``, if there is one."""
    programme = programme_get(uow)
    return uow.session.scalars(
        select(LoyaltyReward).where(
            LoyaltyReward.programme_id == programme.id, LoyaltyReward.code == code
        )
    ).first()


def reward_create(uow: UnitOfWork, *, data: RewardCreate) -> LoyaltyReward:
    """Add a reward to the catalogue; its code must be new."""
    if reward_by_code(uow, code=data.code) is not None:
        raise Conflict(_("a reward with code {code} exists"), field="code", code=data.code)
    coupon_terms_check(data.kind, data.value, data.max_discount)
    reward = LoyaltyReward(
        programme_id=programme_get(uow).id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        points=data.points,
        value=data.value,
        max_discount=data.max_discount,
        min_spend=data.min_spend,
        valid_days=data.valid_days,
        stock=data.stock,
        active=data.active,
        updated_at=utcnow(),
    )
    uow.session.add(reward)
    uow.flush()
    return reward


def reward_update(uow: UnitOfWork, *, reward_id: int, data: RewardUpdate) -> LoyaltyReward:
    """Change the fields present in ``data`` (coupons already issued keep their terms)."""
    reward = reward_get(uow, reward_id=reward_id)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is not None or name in ("max_discount", "stock"):
            setattr(reward, name, value)
    coupon_terms_check(reward.kind, reward.value, reward.max_discount)
    reward.updated_at = utcnow()
    uow.flush()
    return reward


def rewards_list(uow: UnitOfWork, *, active_only: bool = False) -> list[LoyaltyReward]:
    """The programme's rewards, cheapest first."""
    programme = programme_get(uow)
    query = select(LoyaltyReward).where(LoyaltyReward.programme_id == programme.id)
    if active_only:
        query = query.where(LoyaltyReward.active.is_(True))
    return list(uow.session.scalars(query.order_by(LoyaltyReward.points, LoyaltyReward.id)))
