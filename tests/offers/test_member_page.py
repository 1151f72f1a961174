"""The member sees their current list, with reasons in their language, on the member page."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.offers import lists, service
from regulars.offers.lists import CycleInput
from regulars.offers.schemas import ListSettingsUpdate
from tests.factories.web import member_sign_in
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
    member_sign_in(client, uow, "13912340001", world.members[0].id)
    page = client.get("/m/me?lang=en")
    assert page.status_code == 200
    assert 'data-testid="list-panel"' in page.text
    assert "a favourite of our shoppers" in page.text and "Product 1" in page.text
    assert "/lists/" not in page.text  # the staff link is not on the member's page
