"""The cycle job end to end: spend and predictions from receipts, lists, the outbox,
measurement after the cycle and the uplift against the control group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.jobs.lists import cycles_measure, lists_cycle
from regulars.members import service as member_service
from regulars.members.schemas import ConsentIn
from regulars.notify.models import OutboxMessage
from regulars.offers import results, service
from regulars.offers.models import ListCycle, ListItem, PersonalList
from regulars.offers.schemas import ListSettingsUpdate
from tests.factories.insights import shop
from tests.factories.world import World
from tests.offers.conftest import consent, deal

TODAY = date(2026, 11, 16)


def history(uow: UnitOfWork, world: World) -> None:
    """Six weekly visits of every member before TODAY, buying products 1 and 2 (×20)."""
    for member in range(len(world.members)):
        for week in range(6, 0, -1):
            at = datetime(2026, 11, 15, 3, tzinfo=UTC) - timedelta(weeks=week - 1, hours=member)
            shop(uow, world, member=member, at=at, products=(0, 1), quantity="20")


def test_the_cycle_job_generates_notifies_and_measures(uow: UnitOfWork, world: World) -> None:
    history(uow, world)
    deal(uow, world, 0)
    deal(uow, world, 1, kind="amount", value="0.20")
    service.settings_update(
        uow,
        data=ListSettingsUpdate(
            control_share=0.0, threshold=Decimal("50"), base_budget=Decimal("50")
        ),
    )
    a = world.members[0].id
    consent(uow, a)
    member_service.consent_set(
        uow, member_id=a, consent=ConsentIn(purpose="marketing", channel="sms", granted=True)
    )
    uow.commit()
    result = lists_cycle(uow, today=TODAY)
    assert result["eligible"] == 4 and result["lists"] == 4 and result["personalised"] == 1
    assert result["notified"] == {"sent": 1, "no_consent": 3, "empty": 0}
    cycle = uow.session.get(ListCycle, result["cycle"])
    assert cycle is not None and cycle.model == "repurchase"
    mine = uow.session.scalars(
        select(PersonalList).where(PersonalList.cycle_id == cycle.id, PersonalList.member_id == a)
    ).one()
    items = list(uow.session.scalars(select(ListItem).where(ListItem.list_id == mine.id)))
    assert {i.product_id for i in items} == {world.products[0].id, world.products[1].id}
    assert all(i.reason_code != "popular" for i in items)
    message = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.member_id == a)).one()
    assert message.purpose == "personal_list" and mine.code in message.body
    # Run again the next day: the cycle covers it, nothing new.
    again = lists_cycle(uow, today=TODAY + timedelta(days=1))
    assert again["skipped"] == TODAY.isoformat()


def test_uplift_is_measured_against_control(uow: UnitOfWork, world: World) -> None:
    history(uow, world)
    service.settings_update(
        uow, data=ListSettingsUpdate(control_share=0.5, threshold=Decimal("50"))
    )
    uow.commit()
    result = lists_cycle(uow, today=TODAY)
    cycle = uow.session.get(ListCycle, result["cycle"])
    assert cycle is not None
    rows = list(uow.session.scalars(select(PersonalList).where(PersonalList.cycle_id == cycle.id)))
    # During the cycle list members shop twice, control members once.
    for row in rows:
        index = next(i for i, m in enumerate(world.members) if m.id == row.member_id)
        visits = 2 if row.group == "list" else 1
        for v in range(visits):
            shop(
                uow, world, member=index, at=cycle.valid_from + timedelta(days=2 + v), products=(0,)
            )
    assert cycles_measure(uow, now=cycle.valid_to) == 1
    found = results.cycle_results(uow.session, cycle_id=cycle.id)
    assert found.measured
    groups = {r.group for r in rows}
    if groups == {"list", "control"} and min(sum(r.group == g for r in rows) for g in groups) >= 2:
        assert found.uplift is not None
    for row in rows:
        assert row.spend_during == (Decimal("7.00") if row.group == "list" else Decimal("3.50"))
        # Two weekly visits of 20 × ¥3.50 + 20 × ¥4.50 fell in the fortnight before.
        assert row.spend_before == Decimal("320.00")


def test_welch_interval_matches_a_known_case() -> None:
    treated = [12.0, 14.0, 11.0, 15.0, 13.0]
    control = [10.0, 9.0, 11.0, 10.0]
    got = results.welch_interval(treated, control)
    assert got is not None
    assert round(got.difference, 3) == 3.0
    # scipy.stats.ttest_ind(equal_var=False).confidence_interval(): t = 3.674, df = 6.194.
    assert round(got.low, 4) == 1.0171 and round(got.high, 4) == 4.9829
    assert results.welch_interval([1.0], control) is None
