"""Generating a cycle: eligibility, both consent paths, control group, household items,
budgets and diversity; reasons rendered in the member's language."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from regulars.catalog.models import Product
from regulars.core.i18n import translate
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.insights.models import MemberScore, MemberSignal, ScoreRun
from regulars.offers import lists, queries, service
from regulars.offers.candidates import Prediction
from regulars.offers.lists import CycleInput
from regulars.offers.models import ListItem, PersonalList
from regulars.offers.schemas import ListSettingsUpdate
from tests.factories.world import World
from tests.offers.conftest import CYCLE_START, consent, deal, spend

RHYTHM = "you buy this about every {every_days} days; last bought {last_days} days ago"


def predict(world: World, member: int, *products: int) -> list[Prediction]:
    """Predictions for member index ``member``: products by index, best first."""
    return [
        Prediction(
            member_id=world.members[member].id,
            product_id=world.products[p].id,
            score=0.9 - 0.1 * rank,
            expected_days=3.0,
            reason_code="rhythm",
            reason_message=RHYTHM,
            reason_params={"every_days": 12, "last_days": 11},
        )
        for rank, p in enumerate(products)
    ]


def no_control(uow: UnitOfWork) -> None:
    service.settings_update(uow, data=ListSettingsUpdate(control_share=0.0))


def lists_of(uow: UnitOfWork, cycle_id: int) -> dict[int, PersonalList]:
    rows = uow.session.scalars(select(PersonalList).where(PersonalList.cycle_id == cycle_id))
    return {row.member_id: row for row in rows}


def items_of(uow: UnitOfWork, list_id: int) -> list[ListItem]:
    return lists.row_items(uow, list_id)


def test_only_members_reaching_the_threshold_get_a_list(uow: UnitOfWork, world: World) -> None:
    no_control(uow)
    deal(uow, world, 0)
    # Window 8 weeks, threshold ¥150 a week: ¥1200 qualifies, ¥1199.92 does not.
    data = CycleInput(
        spend=spend(world, "1200", "1199.92", "5000"),
        predictions=[],
        popular=[world.products[0].id],
    )
    cycle = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=1)
    got = lists_of(uow, cycle.id)
    assert set(got) == {world.members[0].id, world.members[2].id}
    assert cycle.outcome["eligible"] == 2 and cycle.outcome["lists"] == 2
    # Generating the same cycle again returns it and writes nothing new.
    again = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=2)
    assert again.id == cycle.id and len(lists_of(uow, cycle.id)) == 2


def test_personalised_and_non_personalised_paths(uow: UnitOfWork, world: World) -> None:
    no_control(uow)
    for index in range(5):
        deal(uow, world, index)
    a, b = world.members[0].id, world.members[1].id
    consent(uow, a)
    consent(uow, b, granted=True)
    consent(uow, b, granted=False)  # b withdrew: the newest event counts
    popular = [world.products[i].id for i in (4, 3, 2, 1, 0)]
    data = CycleInput(
        spend=spend(world, "2000", "2000"),
        predictions=predict(world, 0, 1, 0) + predict(world, 1, 1, 0),
        popular=popular,
    )
    cycle = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=1)
    got = lists_of(uow, cycle.id)
    assert got[a].personalised and not got[b].personalised
    mine = items_of(uow, got[a].id)
    assert [i.product_id for i in mine] == [world.products[1].id, world.products[0].id]
    assert mine[0].reason_code == "rhythm" and mine[0].reason_params == {
        "every_days": 12,
        "last_days": 11,
    }
    # b refused personalisation: the same deals by popularity, the same list as anyone else.
    theirs = items_of(uow, got[b].id)
    assert [i.product_id for i in theirs][:3] == popular[:3]
    assert {i.reason_code for i in theirs} == {"popular"}
    shown = queries.list_view(uow, list_id=got[a].id, locale="en")
    assert shown.items[0].reason == "you buy this about every 12 days; last bought 11 days ago"
    assert shown.items[0].product_name == "Product 2"
    zh = queries.list_view(uow, list_id=got[a].id, locale="zh_CN")
    assert zh.items[0].reason == translate(RHYTHM, "zh_CN", every_days=12, last_days=11)


def test_predicted_products_without_a_deal_get_the_store_discount_within_budget(
    uow: UnitOfWork, world: World
) -> None:
    no_control(uow)
    service.settings_update(uow, data=ListSettingsUpdate(base_budget=Decimal("0.80")))
    consent(uow, world.members[0].id)
    data = CycleInput(spend=spend(world, "2000"), predictions=predict(world, 0, 4, 0), popular=[])
    cycle = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=1)
    row = lists_of(uow, cycle.id)[world.members[0].id]
    got = items_of(uow, row.id)
    # 5 % of two units: ¥0.75 for product 5 (¥7.50) fits the ¥0.80 budget; product 1 no more.
    assert [(i.product_id, i.deal_id, i.max_discount) for i in got] == [
        (world.products[4].id, None, Decimal("0.75"))
    ]
    assert row.budget == Decimal("0.80")


def test_control_group_is_recorded_and_gets_no_list(uow: UnitOfWork, world: World) -> None:
    service.settings_update(uow, data=ListSettingsUpdate(control_share=0.5))
    deal(uow, world, 0)
    data = CycleInput(
        spend=spend(world, "2000", "2000", "2000", "2000"),
        predictions=[],
        popular=[world.products[0].id],
    )
    cycle = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=12345)
    got = lists_of(uow, cycle.id)
    control = {m for m, row in got.items() if row.group == "control"}
    from regulars.offers.rules import in_control

    assert control == {m.id for m in world.members if in_control(12345, m.id, 0.5)}
    assert all(got[m].code is None and not items_of(uow, got[m].id) for m in control)
    assert cycle.outcome["control"] == len(control)
    assert cycle.outcome["lists"] == 4 - len(control)


def test_household_items_and_value_budget_come_from_insights(uow: UnitOfWork, world: World) -> None:
    no_control(uow)
    baby = world.products[3]
    uow.session.get(Product, baby.id).tags = ["baby"]  # type: ignore[union-attr]
    deal(uow, world, 3, kind="amount", value="1.00")
    run = ScoreRun(as_of=utcnow(), engine="local", status="done")
    uow.session.add(run)
    uow.flush()
    a, b = world.members[0].id, world.members[1].id
    uow.session.add_all(
        [
            MemberScore(run_id=run.id, member_id=a, tier="platinum"),
            MemberScore(run_id=run.id, member_id=b, tier="lead"),
            MemberSignal(run_id=run.id, member_id=a, signal="baby", score=0.8),
            MemberSignal(run_id=run.id, member_id=b, signal="baby", score=0.8),
        ]
    )
    consent(uow, a)
    uow.flush()
    data = CycleInput(spend=spend(world, "2000", "2000"), predictions=[], popular=[])
    cycle = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=1)
    got = lists_of(uow, cycle.id)
    assert got[a].budget == Decimal("60.00") and got[b].budget == Decimal("10.00")
    mine = items_of(uow, got[a].id)
    assert [(i.product_id, i.reason_code, i.reason_params) for i in mine] == [
        (baby.id, "household", {"signal": "baby"})
    ]
    # b did not consent: no household item from an inferred signal, only popular deals.
    assert {i.reason_code for i in items_of(uow, got[b].id)} <= {"popular"}
