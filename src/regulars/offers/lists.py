"""Generating a cycle's personal lists.

The caller (the cycle job) brings what this domain cannot read itself — each member's
spend over the eligibility window (receipts belong to sales) and the repurchase
predictions (analytics) — and this module decides who is eligible, who is held out as
control, which deals each member gets and how much discount their list may carry.

* Eligible: average weekly spend over the window reaches the threshold.
* Control: a deterministic random share of the eligible (seed per cycle) gets no list.
* Personalised (consent ``personalised_offers`` on any channel): the member's predicted
  products that carry a deal, or else the store's discount, plus household items where
  the latest insights run found a signal. Not consented (PIPL Art. 24): the same deals,
  chosen by popularity, identical for everyone.
* Budget: ``base_budget`` × the member's value-tier factor; diversity: at most
  ``max_per_category`` items of one category.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from regulars.catalog.models import Product
from regulars.core.config import get_settings
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.insights.models import MemberScore, MemberSignal
from regulars.insights.queries import run_latest
from regulars.members.models import ConsentEvent, Member
from regulars.offers import rules
from regulars.offers.candidates import Matcher, Plan, Prediction, personal_plans, popular_plans
from regulars.offers.models import Deal, ListCycle, ListItem, ListSettings, PersonalList
from regulars.offers.service import settings_get


@dataclass(frozen=True)
class CycleInput:
    """What the job brings: spend over the window, predictions, popularity, model info."""

    spend: Mapping[int, Decimal]
    predictions: Sequence[Prediction]
    popular: Sequence[int]
    model: str = "repurchase"
    model_info: dict[str, Any] = field(default_factory=dict)


def cycle_window(starts_on: date, days: int) -> tuple[datetime, datetime]:
    """A cycle's validity: local midnight of ``starts_on`` for ``days`` days, in UTC."""
    zone = ZoneInfo(get_settings().timezone)
    start = datetime.combine(starts_on, time(0), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), (start + timedelta(days=days)).astimezone(
        ZoneInfo("UTC")
    )


def personalised_ids(uow: UnitOfWork, member_ids: Sequence[int]) -> set[int]:
    """Members whose newest ``personalised_offers`` event on some channel is a grant."""
    rows = uow.session.execute(
        select(ConsentEvent.member_id, ConsentEvent.channel, ConsentEvent.granted)
        .where(ConsentEvent.purpose == "personalised_offers")
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    newest: dict[tuple[int, str], bool] = {}
    for member_id, channel, granted in rows:
        newest[(int(member_id), channel)] = bool(granted)
    wanted = set(member_ids)
    return {m for (m, _c), granted in newest.items() if granted and m in wanted}


def _deals(uow: UnitOfWork, start: datetime, end: datetime) -> list[Deal]:
    """Active deals overlapping the cycle with budget left."""
    return [
        d
        for d in uow.session.scalars(
            select(Deal).where(Deal.active.is_(True), Deal.valid_from < end, Deal.valid_to > start)
        )
        if d.budget is None or d.spent < d.budget
    ]


def _products(uow: UnitOfWork, ids: set[int], deals: list[Deal]) -> dict[int, Product]:
    """Products named by id or covered by a deal (its SKU, brand or category)."""
    skus = [d.target_value for d in deals if d.target == "product"]
    brands = [d.target_value for d in deals if d.target == "brand"]
    cats = [d.target_value for d in deals if d.target == "category"]
    conditions = [Product.id.in_(ids)] if ids else []
    if skus:
        conditions.append(Product.sku.in_(skus))
    if brands:
        conditions.append(Product.brand.in_(brands))
    if cats:
        conditions.append(Product.category.in_(cats))
    if not conditions:
        return {}
    found = uow.session.scalars(select(Product).where(or_(*conditions), Product.active.is_(True)))
    return {p.id: p for p in found}


def _latest_insights(
    uow: UnitOfWork, member_ids: list[int]
) -> tuple[dict[int, str | None], dict[int, list[tuple[str, float]]]]:
    """Value tier and household signals per member from the latest insights run."""
    run = run_latest(uow.session)
    if run is None or not member_ids:
        return {}, {}
    tiers = dict(
        uow.session.execute(
            select(MemberScore.member_id, MemberScore.tier).where(MemberScore.run_id == run.id)
        ).all()
    )
    signals: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for member_id, signal, score in uow.session.execute(
        select(MemberSignal.member_id, MemberSignal.signal, MemberSignal.score).where(
            MemberSignal.run_id == run.id
        )
    ):
        signals[int(member_id)].append((signal, float(score)))
    return {int(k): v for k, v in tiers.items()}, signals


def _write_list(
    uow: UnitOfWork,
    cycle: ListCycle,
    member_id: int,
    *,
    settings: ListSettings,
    weekly: Decimal,
    tier: str | None,
    personalised: bool,
    plans: list[Plan],
) -> int:
    """Write a member's list and its chosen items; the number of items."""
    budget = rules.budget_for(settings.base_budget, tier, settings.tier_factors)
    chosen = rules.choose(
        [p.candidate for p in plans],
        length=settings.list_length,
        per_category=settings.max_per_category,
        budget=budget,
    )
    bycandidate = {id(p.candidate): p for p in plans}
    row = PersonalList(
        cycle_id=cycle.id,
        member_id=member_id,
        group="list",
        personalised=personalised,
        code=rules.list_code(),
        valid_from=cycle.valid_from,
        valid_to=cycle.valid_to,
        weekly_spend=weekly,
        budget=budget,
        value_tier=tier,
    )
    uow.session.add(row)
    uow.flush()
    for position, cand in enumerate(chosen, start=1):
        plan = bycandidate[id(cand)]
        uow.session.add(
            ListItem(
                list_id=row.id,
                position=position,
                product_id=cand.product_id,
                deal_id=cand.deal_id,
                category=cand.category,
                kind=plan.offer.terms.kind,
                value=plan.offer.terms.value,
                buy_qty=plan.offer.terms.buy_qty,
                get_qty=plan.offer.terms.get_qty,
                max_discount=cand.discount,
                manufacturer_share=plan.offer.manufacturer_share,
                score=cand.score,
                expected_days=cand.expected_days,
                reason_code=plan.reason_code,
                reason_message=plan.reason_message,
                reason_params=dict(cand.reason_params),
                status="open",
            )
        )
    return len(chosen)


def cycle_generate(
    uow: UnitOfWork, *, starts_on: date, data: CycleInput, seed: int | None = None
) -> ListCycle:
    """Generate the lists of the cycle starting ``starts_on``; an existing cycle is returned.

    Writes one ``personal_list`` row per eligible member (a list or a control entry) and
    the list's items; counts go to the cycle's ``outcome``.
    """
    existing = uow.session.scalars(
        select(ListCycle).where(ListCycle.starts_on == starts_on)
    ).first()
    if existing is not None:
        return existing
    settings = settings_get(uow)
    start, end = cycle_window(starts_on, settings.cycle_days)
    cycle = ListCycle(
        starts_on=starts_on,
        valid_from=start,
        valid_to=end,
        seed=seed if seed is not None else secrets.randbelow(2**31),
        model=data.model,
        model_info=dict(data.model_info),
        settings={
            "window_weeks": settings.window_weeks,
            "threshold": str(settings.threshold),
            "cycle_days": settings.cycle_days,
            "list_length": settings.list_length,
            "max_per_category": settings.max_per_category,
            "control_share": settings.control_share,
            "base_budget": str(settings.base_budget),
            "tier_factors": dict(settings.tier_factors),
            "store_discount": str(settings.store_discount),
        },
        status="open",
        created_at=utcnow(),
    )
    uow.session.add(cycle)
    uow.flush()
    weekly = {
        m: rules.weekly_spend(total, settings.window_weeks) for m, total in data.spend.items()
    }
    active = set(
        uow.session.scalars(
            select(Member.id).where(Member.id.in_(list(weekly)), Member.status == "active")
        )
    )
    eligible = sorted(
        m for m, w in weekly.items() if m in active and rules.is_eligible(w, settings.threshold)
    )
    consenting = personalised_ids(uow, eligible)
    tiers, signals = _latest_insights(uow, eligible)
    deals = _deals(uow, start, end)
    wanted = {p.product_id for p in data.predictions} | set(data.popular)
    products = _products(uow, wanted, deals)
    matcher = Matcher(deals, settings.store_discount)
    everyone = popular_plans(data.popular, products, matcher)
    by_member: dict[int, list[Prediction]] = defaultdict(list)
    for p in data.predictions:
        by_member[p.member_id].append(p)
    counts = {"eligible": len(eligible), "lists": 0, "control": 0, "personalised": 0, "items": 0}
    for member_id in eligible:
        if rules.in_control(cycle.seed, member_id, settings.control_share):
            uow.session.add(
                PersonalList(
                    cycle_id=cycle.id,
                    member_id=member_id,
                    group="control",
                    personalised=member_id in consenting,
                    code=None,
                    valid_from=start,
                    valid_to=end,
                    weekly_spend=weekly[member_id],
                    budget=Decimal("0"),
                    value_tier=tiers.get(member_id),
                )
            )
            counts["control"] += 1
            continue
        personal = member_id in consenting
        plans = (
            personal_plans(
                by_member.get(member_id, []), signals.get(member_id, []), products, matcher
            )
            if personal
            else everyone
        )
        counts["items"] += _write_list(
            uow,
            cycle,
            member_id,
            settings=settings,
            weekly=weekly[member_id],
            tier=tiers.get(member_id),
            personalised=personal,
            plans=plans,
        )
        counts["lists"] += 1
        counts["personalised"] += int(personal)
    cycle.outcome = counts
    uow.flush()
    return cycle


def row_items(uow: UnitOfWork, list_id: int) -> list[ListItem]:
    """A list's items in order."""
    return list(
        uow.session.scalars(
            select(ListItem).where(ListItem.list_id == list_id).order_by(ListItem.position)
        )
    )
