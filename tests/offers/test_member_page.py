"""The member sees their current list, with reasons in their language, on the member page."""

from __future__ import annotations

import re
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.notify.models import OutboxMessage
from regulars.offers import lists, service
from regulars.offers.lists import CycleInput
from regulars.offers.schemas import ListSettingsUpdate
from tests.factories.world import World
from tests.offers.conftest import deal


def test_the_member_page_shows_the_current_list(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    deal(uow, world, 0, valid_from="2020-01-01T00:00:00Z", valid_to="2099-01-01T00:00:00Z")
    service.settings_update(uow, data=ListSettingsUpdate(control_share=0.0))
    lists.cycle_generate(
        uow,
        starts_on=utcnow().date(),
        data=CycleInput(
            spend={world.members[0].id: Decimal("5000")},
            predictions=[],
            popular=[world.products[0].id],
        ),
        seed=1,
    )
    uow.commit()
    identifier = "13912340001"
    assert client.post("/m/code", data={"identifier": identifier}).status_code == 200
    uow.session.expire_all()
    body = uow.session.scalars(
        select(OutboxMessage.body)
        .where(OutboxMessage.member_id == world.members[0].id)
        .order_by(OutboxMessage.id.desc())
    ).first()
    code = re.search(r"\b(\d{6})\b", body or "").group(1)  # type: ignore[union-attr]
    signed = client.post(
        "/m/verify", data={"identifier": identifier, "code": code}, follow_redirects=False
    )
    assert signed.status_code == 303
    page = client.get("/m/me?lang=en")
    assert page.status_code == 200
    assert 'data-testid="list-panel"' in page.text
    assert "a favourite of our shoppers" in page.text and "Product 1" in page.text
    assert "/lists/" not in page.text  # the staff link is not on the member's page
