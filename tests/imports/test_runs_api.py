"""``GET /api/v1/imports`` and ``/api/v1/imports/{run_id}``: the runs the /imports page
lists, newest first and paged, for admins only; an unknown run is 404."""

from __future__ import annotations

import pytest

from tests.factories.world import World, build_world

MEMBERS_CSV = b"card_no,name\nC4000001,Ann\nC4000002,Ben\n"
PRODUCTS_CSV = b"sku,unit_price\nRUN1,1.50\nRUN2,-2\n"


@pytest.fixture
def world(uow) -> World:
    return build_world(uow)


def _upload(client, world: World, kind: str, content: bytes) -> int:
    answer = client.post(
        f"/api/v1/imports/{kind}",
        files={"file": (f"{kind}.csv", content)},
        headers=world.staff(),
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_runs_are_listed_newest_first_with_state_and_counts(client, world) -> None:
    first = _upload(client, world, "members", MEMBERS_CSV)
    second = _upload(client, world, "products", PRODUCTS_CSV)
    answer = client.get("/api/v1/imports", headers=world.staff())
    assert answer.status_code == 200, answer.text
    runs = answer.json()
    assert [r["id"] for r in runs][:2] == [second, first]
    newest = runs[0]
    assert (newest["kind"], newest["filename"], newest["status"]) == (
        "products",
        "products.csv",
        "done",
    )
    assert (newest["rows_total"], newest["rows_loaded"], newest["rows_bad"]) == (2, 1, 1)
    assert newest["actor"] == "t_admin" and newest["error"] is None
    assert "report_path" not in newest  # a server path is not the caller's business


def test_limit_and_offset_page_through_runs(client, world) -> None:
    ids = [_upload(client, world, "members", MEMBERS_CSV) for _ in range(3)]
    page = client.get("/api/v1/imports?limit=2", headers=world.staff()).json()
    assert [r["id"] for r in page] == ids[::-1][:2]
    rest = client.get("/api/v1/imports?limit=2&offset=2", headers=world.staff()).json()
    assert rest[0]["id"] == ids[0]
    assert client.get("/api/v1/imports?limit=0", headers=world.staff()).status_code == 422
    assert client.get("/api/v1/imports?offset=-1", headers=world.staff()).status_code == 422


def test_one_run_and_an_unknown_run(client, world) -> None:
    run_id = _upload(client, world, "members", MEMBERS_CSV)
    one = client.get(f"/api/v1/imports/{run_id}", headers=world.staff())
    assert one.status_code == 200 and one.json()["rows_loaded"] == 2
    missing = client.get("/api/v1/imports/999999", headers=world.staff())
    assert missing.status_code == 404
    assert "999999" in missing.json()["error"]["message"]


def test_only_importers_may_list_runs(client, world) -> None:
    assert client.get("/api/v1/imports", headers=world.staff("marketing")).status_code == 403
    assert client.get("/api/v1/imports").status_code == 401
