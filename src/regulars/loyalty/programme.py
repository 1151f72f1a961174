"""The programme's settings, tiers and multiplier rules: seeding, caching and changes."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty.models import LoyaltyMultiplier, LoyaltyProgramme, LoyaltyTier
from regulars.loyalty.rules import Rule, TierRule
from regulars.loyalty.schemas import MultiplierIn, ProgrammeUpdate, TierIn

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


_cache: dict[str, Config] = {}
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
