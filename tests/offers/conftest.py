"""Fixtures of the offers tests: a world, deals on its products, a generated cycle."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from regulars.core.uow import UnitOfWork
from regulars.members import service as member_service
from regulars.members.schemas import ConsentIn
from regulars.offers import service
from regulars.offers.schemas import DealCreate
from tests.factories.world import World, build_world

CYCLE_START = date(2026, 11, 16)
IN_CYCLE = datetime(2026, 11, 20, 2, 15, tzinfo=UTC)


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    """A store, a till, five products (¥3.50 … ¥7.50) and four members."""
    return build_world(uow, members=4)


def deal(
    uow: UnitOfWork, world: World, index: int, *, code: str | None = None, **terms: object
) -> int:
    """A deal on product ``index`` of the world (20 % off unless told otherwise)."""
    values: dict[str, object] = {
        "code": code or f"D{index}",
        "title": f"Deal {index}",
        "target": "product",
        "target_value": world.products[index].sku,
        "kind": "percent",
        "value": "20",
        "valid_from": "2026-11-01T00:00:00+08:00",
        "valid_to": "2026-12-31T00:00:00+08:00",
    }
    values.update(terms)
    made = service.deal_create(uow, data=DealCreate.model_validate(values))
    return made.id


def consent(uow: UnitOfWork, member_id: int, *, granted: bool = True) -> None:
    """Record the member's personalised-offers consent (SMS channel)."""
    member_service.consent_set(
        uow,
        member_id=member_id,
        consent=ConsentIn(purpose="personalised_offers", channel="sms", granted=granted),
    )


def spend(world: World, *amounts: str) -> dict[int, Decimal]:
    """Spend over the window per member, in the order of the world's members."""
    return {m.id: Decimal(a) for m, a in zip(world.members, amounts, strict=False)}


__all__ = ["CYCLE_START", "IN_CYCLE", "consent", "deal", "spend"]
