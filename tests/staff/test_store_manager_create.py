"""A store manager is created with at least one store, as ``staff_set_role`` demands of
one later: the service, the API (422 naming ``store_ids``), the /staff page and
``regulars staff add`` all refuse one without."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core.errors import InvalidInput, RuleViolation
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app as cli
from regulars.staff import service
from regulars.staff.models import StaffAccount
from regulars.staff.schemas import StaffCreate
from tests.factories.web import login, make_staff
from tests.factories.world import World, build_world


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow, products=1, members=1)


def _exists(uow: UnitOfWork, username: str) -> bool:
    found = uow.session.scalars(select(StaffAccount).where(StaffAccount.username == username))
    return found.first() is not None


def test_the_service_refuses_a_store_manager_without_a_store(uow: UnitOfWork, world: World) -> None:
    data = StaffCreate(username="sam", display_name="Sam", role="store_manager")
    with pytest.raises(RuleViolation) as refused:
        service.staff_create(uow, data=data)
    assert refused.value.field == "store_ids"
    unknown = StaffCreate(
        username="sam", display_name="Sam", role="store_manager", store_ids=[999_999]
    )
    with pytest.raises(InvalidInput) as missing:
        service.staff_create(uow, data=unknown)
    assert missing.value.field == "store_ids"
    fine = StaffCreate(
        username="sam",
        display_name="Sam",
        role="store_manager",
        store_ids=[world.store.id, world.store.id],
    )
    account, _password = service.staff_create(uow, data=fine)
    assert account.store_ids == [world.store.id]
    cashier = StaffCreate(username="cas", display_name="Cas", role="cashier")
    assert service.staff_create(uow, data=cashier)[0].store_ids == []


def test_the_api_names_store_ids(client: TestClient, uow: UnitOfWork, world: World) -> None:
    body = {"username": "sam", "display_name": "Sam", "role": "store_manager"}
    answer = client.post("/api/v1/staff", json=body, headers=world.staff())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "store_ids"
    assert not _exists(uow, "sam")
    body["store_ids"] = [world.store.id]  # type: ignore[assignment]
    answer = client.post("/api/v1/staff", json=body, headers=world.staff())
    assert answer.status_code == 201, answer.text
    assert answer.json()["store_ids"] == [world.store.id]


def test_the_page_refuses_and_names_store_ids(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    make_staff(uow, "hana", "admin")
    csrf = login(client, "hana")
    data = {"csrf_token": csrf, "username": "sam", "display_name": "Sam", "role": "store_manager"}
    answer = client.post("/staff", data=data)
    assert answer.status_code == 422
    assert 'data-field="store_ids"' in answer.text
    assert "a store manager needs at least one store" in answer.text
    assert not _exists(uow, "sam")
    answer = client.post("/staff", data={**data, "store_ids": str(world.store.id)})
    assert answer.status_code == 201 and "Account sam created." in answer.text


def test_the_cli_refuses_a_store_manager_without_a_store(cli_db: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["stores", "add", "S1", "一店"]).exit_code == 0
    refused = runner.invoke(cli, ["staff", "add", "sam", "--role", "store_manager"])
    assert refused.exit_code == 1, refused.output
    assert "[store_ids]" in refused.output
    made = runner.invoke(cli, ["staff", "add", "sam", "--role", "store_manager", "--store", "S1"])
    assert made.exit_code == 0, made.output
