"""More values at the edge of what a type can hold: a 4xx naming the field, never a 500.

The funding statement's period, a basket run's period and the audit page's ``since``, on the
API, the staff pages and the command line. Each case was a 500 (or a traceback) found by
fuzzing: a time UTC cannot hold, a day whose next day does not exist, thirty days before the
first day a calendar has. The tests fail without the fix.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app
from tests.factories.web import login, make_staff
from tests.factories.world import World, build_world

EDGES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
STATEMENT = "/api/v1/offers/statement"


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow, members=1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "0001-01-05T00:00:00Z"}, "end"),  # its default start is before year 1
        ({"start": EDGES[0]}, "start"),
        ({"start": EDGES[0], "end": "2026-12-01T00:00:00+08:00"}, "start"),
        ({"end": EDGES[1]}, "end"),
        ({"start": "2026-11-01T00:00:00+08:00", "end": EDGES[1]}, "end"),
        # UTC holds these, but not the day after in the chain's time zone
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T20:00:00Z"}, "start"),
    ],
)
def test_a_statement_period_past_the_calendar_is_422(client, world, params, field) -> None:
    answer = client.get(STATEMENT, params=params, headers=world.staff("marketing"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    fine = {"start": "2026-11-01T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"}
    assert client.get(STATEMENT, params=fine, headers=world.staff("marketing")).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"start": EDGES[0]},
        {"end": EDGES[1]},
        {"start": "0001-01-01T00:00:00Z", "end": "0001-01-05T00:00:00Z"},
        {"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T20:00:00Z", "format": "pdf"},
        {"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T20:00:00Z", "format": "csv"},
    ],
)
def test_the_statement_page_shows_its_error_for_a_period_past_the_calendar(
    client, uow, world, params
) -> None:
    make_staff(uow, "edge_marketing", "marketing")
    login(client, "edge_marketing")
    answer = client.get("/offers/statement", params=params)
    assert answer.status_code == 422, answer.text[:500]
    assert 'data-testid="form-error"' in answer.text


def test_the_cli_statement_refuses_days_past_the_calendar(cli_db: str) -> None:
    runner = CliRunner()
    for options, field in (
        (("--from", "9999-12-30", "--to", "9999-12-31"), "start"),
        (("--from", "2026-11-01", "--to", "9999-12-31"), "end"),
        (("--from", "0001-01-01", "--to", "2026-11-01"), "start"),
    ):
        result = runner.invoke(app, ["deals", "statement", *options])
        assert result.exit_code == 1, result.output
        assert f"[{field}]" in result.output, result.output


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period_to": "9999-12-31"}, "period_to"),
        ({"period_from": "0001-01-01"}, "period_from"),
        ({"period_from": "0001-01-01", "period_to": "9999-12-31"}, "period_from"),
        ({"period_from": "2026-11-01", "period_to": "9999-12-31"}, "period_to"),
    ],
)
def test_a_basket_run_over_days_past_the_calendar_is_422(client, world, body, field) -> None:
    answer = client.post("/api/v1/baskets/runs", json=body, headers=world.staff("analyst"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


@pytest.mark.parametrize("name", ["period_from", "period_to"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_mine_form_refuses_days_past_the_calendar(client, uow, world, name, day) -> None:
    make_staff(uow, "edge_analyst", "analyst")
    token = login(client, "edge_analyst")
    answer = client.post(
        "/baskets/mine", data={"csrf_token": token, name: day}, follow_redirects=False
    )
    assert answer.status_code == 422, answer.text[:500]
    assert name in answer.text


def test_the_cli_mine_refuses_days_past_the_calendar(cli_db: str) -> None:
    runner = CliRunner()
    for option, day, field in (
        ("--to", "9999-12-31", "period_to"),
        ("--from", "0001-01-01", "period_from"),
    ):
        result = runner.invoke(app, ["baskets", "mine", option, day])
        assert result.exit_code == 2, result.output
        assert f"[{field}]" in result.output, result.output


@pytest.mark.parametrize("since", [*EDGES, "yesterday"])
def test_the_audit_page_refuses_a_since_it_cannot_search_from(client, uow, since) -> None:
    make_staff(uow, "edge_admin", "admin")
    login(client, "edge_admin")
    answer = client.get("/audit", params={"since": since})
    assert answer.status_code == 422, answer.text[:500]
    assert 'data-testid="error"' in answer.text
    assert client.get("/audit", params={"since": "2026-11-01"}).status_code == 200
