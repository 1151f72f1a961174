"""Redemption at the till: the list's discounts in the receipt's answer, once, within the
per-member limit and the deal's budget, recorded per item with its funding split."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.catalog import service as catalog_service
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.offers import lists, queries, service
from regulars.offers.lists import CycleInput
from regulars.offers.models import Deal, ListItem, PersonalList, Redemption
from regulars.offers.schemas import ListSettingsUpdate
from tests.factories.world import World
from tests.offers.conftest import CYCLE_START, deal, spend


def generate(uow: UnitOfWork, world: World, *products: int) -> dict[int, PersonalList]:
    """A cycle giving every member a popularity list of ``products`` (indexes)."""
    service.settings_update(
        uow, data=ListSettingsUpdate(control_share=0.0, base_budget=Decimal("100"))
    )
    data = CycleInput(
        spend=spend(world, "2000", "2000", "2000", "2000"),
        predictions=[],
        popular=[world.products[i].id for i in products],
    )
    cycle = lists.cycle_generate(uow, starts_on=CYCLE_START, data=data, seed=1)
    uow.commit()
    rows = uow.session.scalars(select(PersonalList).where(PersonalList.cycle_id == cycle.id))
    return {row.member_id: row for row in rows}


def body(
    world: World,
    receipt_no: str,
    *,
    member: int | None = 0,
    quantity: str = "2",
    products: tuple[int, ...] = (0, 1),
) -> dict[str, Any]:
    """A receipt at full price (the list discount is the till's voucher, not a line discount)."""
    items = []
    for index in products:
        price = world.products[index].unit_price
        assert price is not None
        items.append(
            {
                "barcode": world.products[index].barcode,
                "quantity": quantity,
                "unit_price": str(price),
                "amount": str(price * Decimal(quantity)),
            }
        )
    payload: dict[str, Any] = {
        "receipt_no": receipt_no,
        "occurred_at": "2026-11-20T10:15:00+08:00",
        "lines": items,
    }
    if member is not None:
        payload["member"] = {"card_no": world.members[member].card_no}
    return payload


def post(client: TestClient, world: World, payload: dict[str, Any]) -> Any:
    return client.post("/api/v1/receipts", json=payload, headers=world.till())


def test_list_items_are_discounted_once_and_leave_the_list(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    catalog_service.manufacturer_ensure(uow, code="M1", name="Maker One")
    deal(uow, world, 0, manufacturer_code="M1", manufacturer_share="75", store_share="25")
    deal(uow, world, 1, kind="amount", value="0.50")
    made = generate(uow, world, 0, 1)
    member = world.members[0].id
    first = post(client, world, body(world, "OF-1"))
    assert first.status_code == 201, first.text
    answer = first.json()
    # Product 1: 20 % of 2 × ¥3.50 = ¥1.40; product 2: ¥0.50 × 2 = ¥1.00.
    assert [(d["line_no"], d["amount"]) for d in answer["list_discounts"]] == [
        (1, "1.40"),
        (2, "1.00"),
    ]
    assert answer["list_discount_total"] == "2.40"
    again = post(client, world, body(world, "OF-1"))
    assert again.status_code == 200 and again.json() == answer
    # The items left the list: the next receipt gets nothing more.
    later = post(client, world, body(world, "OF-2")).json()
    assert later["list_discounts"] == [] and later["list_discount_total"] == "0"
    reds = list(uow.session.scalars(select(Redemption).order_by(Redemption.id)))
    assert [(r.amount, r.manufacturer_amount, r.store_amount) for r in reds] == [
        (Decimal("1.40"), Decimal("1.05"), Decimal("0.35")),
        (Decimal("1.00"), Decimal("0.00"), Decimal("1.00")),
    ]
    assert {r.receipt_id for r in reds} == {answer["receipt_id"]}
    statuses = uow.session.scalars(
        select(ListItem.status).where(ListItem.list_id == made[member].id)
    )
    assert set(statuses) == {"redeemed"}
    rate = queries.cycle_redemption(uow.session, cycle_id=made[member].cycle_id)
    assert (rate.lists, rate.items, rate.redeemed_items, rate.lists_redeeming) == (4, 8, 2, 1)
    assert rate.discount == Decimal("2.40")
    statement = queries.funding_statement(
        uow.session,
        start=utcnow().replace(year=2026, month=11, day=1),
        end=utcnow().replace(year=2026, month=12, day=1),
    )
    assert [
        (s.manufacturer_code, s.deal_code, s.manufacturer_amount, s.store_amount) for s in statement
    ] == [
        (None, "D1", Decimal("0.00"), Decimal("1.00")),
        ("M1", "D0", Decimal("1.05"), Decimal("0.35")),
    ]


def test_the_list_code_names_the_member(client: TestClient, world: World, uow: UnitOfWork) -> None:
    deal(uow, world, 0)
    made = generate(uow, world, 0)
    code = made[world.members[1].id].code
    assert code is not None
    payload = {**body(world, "OF-3", member=None), "list_code": code.lower()}
    answer = post(client, world, payload).json()
    assert answer["member_id"] == world.members[1].id
    assert [d["amount"] for d in answer["list_discounts"]] == ["1.40"]
    # Someone else's list with one's own card is refused with the field named.
    other = {**body(world, "OF-4", member=0), "list_code": code}
    refused = post(client, world, other)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "list_code"
    unknown = post(client, world, {**body(world, "OF-5", member=None), "list_code": "LNOPE0000000"})
    assert unknown.status_code == 422


def test_budget_cap_and_member_limit_are_honoured(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    capped = deal(uow, world, 0, budget="2.00")
    limited = deal(uow, world, 1, limit_per_member=1)
    generate(uow, world, 0, 1)
    a = post(client, world, body(world, "OF-6", member=0, products=(0,))).json()
    b = post(client, world, body(world, "OF-7", member=1, products=(0,))).json()
    # ¥1.40 fits the ¥2 budget; a second ¥1.40 would pass it, so member 2 gets nothing.
    assert [d["amount"] for d in a["list_discounts"]] == ["1.40"]
    assert b["list_discounts"] == []
    assert uow.session.get(Deal, capped).spent == Decimal("1.40")  # type: ignore[union-attr]
    # Another open item of the limited deal on member 1's list: the limit of one holds.
    first = post(client, world, body(world, "OF-8", member=0, products=(1,))).json()
    assert len(first["list_discounts"]) == 1
    redeemed = uow.session.get(ListItem, first["list_discounts"][0]["list_item_id"])
    assert redeemed is not None
    uow.session.add(
        ListItem(
            list_id=redeemed.list_id,
            position=99,
            product_id=world.products[1].id,
            deal_id=limited,
            kind="percent",
            value=Decimal("20"),
            max_discount=Decimal("5"),
            reason_code="popular",
            reason_message="x",
            reason_params={},
        )
    )
    uow.commit()
    second = post(client, world, body(world, "OF-9", member=0, products=(1,))).json()
    assert second["list_discounts"] == []
    # Without the limit the same item would have been honoured: member 2 still can.
    other = post(client, world, body(world, "OF-10b", member=1, products=(1,))).json()
    assert len(other["list_discounts"]) == 1


def test_anonymous_receipts_and_lines_off_the_list_get_nothing(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    deal(uow, world, 0)
    generate(uow, world, 0)
    anonymous = post(client, world, body(world, "OF-10", member=None)).json()
    assert anonymous["list_discounts"] == []
    off_list = post(client, world, body(world, "OF-11", products=(2, 3))).json()
    assert off_list["list_discounts"] == []
