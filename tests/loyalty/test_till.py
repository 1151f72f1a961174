"""Loyalty at the till: points in the receipt's answer, redemption in its transaction,
replays that never earn twice, returns that take the points back, and the known exploits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from regulars.core.uow import UnitOfWork
from regulars.loyalty import queries, service
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.programme import programme_get
from regulars.loyalty.till import account_lock
from regulars.sales.models import Receipt
from tests.factories.loyalty import configure
from tests.factories.world import World, receipt_payload


def post(client: TestClient, world: World, body: dict[str, Any], path: str = "receipts") -> Any:
    return client.post(f"/api/v1/{path}", json=body, headers=world.till())


def lines_of(uow: UnitOfWork, member_id: int) -> list[PointsLine]:
    return list(
        uow.session.scalars(
            select(PointsLine).where(PointsLine.member_id == member_id).order_by(PointsLine.id)
        )
    )


def grant(uow: UnitOfWork, member_id: int, points: int) -> None:
    service.points_adjust(
        uow, member_id=member_id, points=points, kind="adjust", reason="opening", actor="t"
    )
    uow.commit()


def test_the_answer_carries_points_and_a_replay_never_earns_twice(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    body = receipt_payload(world, "L-1")  # two lines: 2×3.50−0.50 and 2×4.50−0.50 = ¥15
    first = post(client, world, body)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["points_earned"] == 15
    assert answer["points_redeemed"] == 0
    assert (answer["balance"], answer["pending"]) == (0, 15)
    assert answer["tier"] == "standard" and answer["rewards"] == []
    again = post(client, world, body)
    assert again.status_code == 200 and again.json() == answer
    member = world.members[0].id
    assert [line.kind for line in lines_of(uow, member)] == ["earn"]
    anonymous = post(client, world, receipt_payload(world, "L-2", member=False)).json()
    assert anonymous["points_earned"] == 0 and anonymous["balance"] is None


def test_a_replay_of_a_receipt_that_spent_every_point_gets_its_first_answer(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    # On PostgreSQL the points are worked out before the receipt's insert (one statement
    # writes both): the replay's redemption is refused there, yet it is a replay.
    member = world.members[0].id
    grant(uow, member, 500)
    body = {**receipt_payload(world, "L-ALL"), "redeem_points": 500}
    first = post(client, world, body)
    assert first.status_code == 201, first.text
    assert first.json()["balance"] == 0
    again = post(client, world, body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    other = post(client, world, {**receipt_payload(world, "L-MORE"), "redeem_points": 1})
    assert other.status_code == 422, other.text
    assert other.json()["error"]["field"] == "redeem_points"
    assert queries.ledger_check(uow.session, member_id=member) == []


def test_redemption_is_part_of_the_receipt(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    member = world.members[0].id
    grant(uow, member, 1000)
    body = {**receipt_payload(world, "L-3"), "redeem_points": 600}
    first = post(client, world, body)
    assert first.status_code == 201, first.text
    answer = first.json()
    # ¥6 of the ¥15 were paid with points: only ¥9 earns.
    assert (answer["points_redeemed"], answer["points_earned"]) == (600, 9)
    assert (answer["balance"], answer["pending"]) == (400, 9)
    assert answer["rewards"][0] == {
        "code": "points_redeemed",
        "points": -600,
        "amount": "6.00",
        "tier": None,
    }
    # A replayed receipt with a redemption redeems once.
    assert post(client, world, body).json() == answer
    kinds = [line.kind for line in lines_of(uow, member)]
    assert kinds == ["adjust", "redeem", "earn"]
    assert queries.ledger_check(uow.session, member_id=member) == []


def test_too_large_a_redemption_records_nothing(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    member = world.members[0].id
    grant(uow, member, 100)
    refused = post(client, world, {**receipt_payload(world, "L-4"), "redeem_points": 101})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "redeem_points"
    assert uow.session.scalar(select(func.count()).select_from(Receipt)) == 0
    assert [line.kind for line in lines_of(uow, member)] == ["adjust"]
    account = uow.session.scalars(
        select(PointsAccount).where(PointsAccount.member_id == member)
    ).one()
    uow.session.refresh(account)
    assert account.balance == 100
    anonymous = {**receipt_payload(world, "L-5", member=False), "redeem_points": 100}
    assert post(client, world, anonymous).status_code == 422
    too_big = {**receipt_payload(world, "L-6"), "redeem_points": 10_000_000_000}
    assert post(client, world, too_big).status_code == 422


def test_refund_and_keep_the_points_is_impossible(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    """Odoo PR #257854: buy, spend the points on another receipt, refund the first."""
    configure(uow, pending_days=0, min_redemption=0)
    uow.commit()
    member = world.members[0].id
    post(client, world, receipt_payload(world, "X-1"))  # earns 15
    spent = post(client, world, {**receipt_payload(world, "X-2"), "redeem_points": 15}).json()
    assert spent["points_redeemed"] == 15
    back = {
        "receipt_no": "XR-1",
        "occurred_at": "2026-11-21T09:00:00+08:00",
        "original_receipt_no": "X-1",
        "lines": [{"line_no": 1, "quantity": "2"}, {"line_no": 2, "quantity": "2"}],
    }
    answer = post(client, world, back, "returns")
    assert answer.status_code == 201, answer.text
    assert answer.json()["points_earned"] == -15
    # X-2 earned 14 (¥15 less ¥0.15 of points): clawed back, the last point is a debt.
    assert (answer.json()["balance"], answer.json()["debt"]) == (0, 1)
    assert post(client, world, back, "returns").json() == answer.json()
    assert queries.ledger_check(uow.session, member_id=member) == []


def test_a_reward_line_never_earns(client: TestClient, world: World, uow: UnitOfWork) -> None:
    """odoo #150833: the reward line of a promotion counted as spend that earns points."""
    body = receipt_payload(world, "R-1", lines=1)  # ¥6.50
    reward = {
        "sku": "REWARD",
        "quantity": "1",
        "unit_price": "0",
        "discount": "2.50",
        "amount": "-2.50",
    }
    body["lines"] = [*body["lines"], reward]  # type: ignore[list-item]
    body["total"] = "4.00"
    body["payments"] = [{"method": "cash", "amount": "4.00"}]
    answer = post(client, world, body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["points_earned"] == 4
    earn = lines_of(uow, world.members[0].id)[0]
    assert earn.detail["lines"] == {"1": 4}
    assert earn.spend == Decimal("4.00")


def test_a_member_s_first_account_is_opened_locked_in_the_entry_tier(
    world: World, uow: UnitOfWork
) -> None:
    member = world.members[1]
    programme = programme_get(uow)  # seeded: the account opens in one statement
    before = uow.session.scalar(select(func.count()).select_from(PointsAccount))
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    conn = uow.session.connection()
    event.listen(conn, "before_cursor_execute", seen)
    row = account_lock(uow, member.id)
    event.remove(conn, "before_cursor_execute", seen)
    assert len(statements) == 1, statements  # opened and locked by its insert
    assert (row.balance, row.debt, row.lifetime_earned) == (0, 0, 0)
    assert row.tier_code == "standard"
    assert row.qualifying_spend == Decimal("0")
    assert row.revision == programme.revision
    assert row.birthday == member.birthday
    assert uow.session.scalar(select(func.count()).select_from(PointsAccount)) == before + 1
    again = account_lock(uow, member.id)  # the account exists: locked, not opened twice
    assert again.id == row.id and again.tier_code == "standard"
    assert uow.session.scalar(select(func.count()).select_from(PointsAccount)) == before + 1
