"""``POST /api/v1/points/grants``: points from a CSV file, as the grants page gives them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.loyalty import api as loyalty_api
from regulars.loyalty import queries
from regulars.loyalty.models import PointsLine
from regulars.staff.models import AuditEvent
from tests.factories.world import World

URL = "/api/v1/points/grants"


def send(
    client: TestClient,
    world: World,
    content: bytes,
    *,
    role: str = "service_desk",
    reason: str = "opening balance",
    kind: str = "adjust",
    lang: str = "en",
) -> object:
    return client.post(
        URL,
        data={"reason": reason, "kind": kind},
        files={"file": ("grants.csv", content, "text/csv")},
        headers={**world.staff(role), "Accept-Language": lang},
    )


def lines_of(uow: UnitOfWork) -> int:
    uow.session.expire_all()
    return len(uow.session.scalars(select(PointsLine.id)).all())


def test_grants_good_rows_and_lists_bad_ones(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    first, second = world.members[0], world.members[1]
    content = (
        f"card_no,points\n{first.card_no},200\nNOSUCH00,10\n{second.card_no},abc\n"
        f"{second.card_no},0\n"
    ).encode()
    answer = send(client, world, content)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["granted"] == 1
    assert [(b["line"], b["reason"]) for b in body["bad"]] == [
        (3, "member not found"),
        (4, "points: abc is not a whole number between -10000000 and 10000000"),
        (5, "points must not be 0"),
    ]
    assert queries.points_summary(uow, member_id=first.id).available >= 200
    (event,) = uow.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "points_grant_file")
    ).all()
    assert event.staff_id is not None and event.actor != "cli"
    assert event.page == URL
    assert event.detail == {"granted": 1, "bad": 3, "reason": "opening balance"}


def test_bad_rows_come_back_in_the_callers_language(client: TestClient, world: World) -> None:
    content = f"member_id,points\n{world.members[0].id},5\n999999,5\n".encode()
    answer = send(client, world, content, kind="compensate", lang="zh-CN")
    assert answer.status_code == 200, answer.text
    assert answer.json()["granted"] == 1
    (bad,) = answer.json()["bad"]
    assert bad["line"] == 3 and bad["reason"] != "member not found"


@pytest.mark.parametrize(
    ("reason", "kind", "field"),
    [
        (" ", "adjust", "reason"),
        ("opening balance", "gift", "kind"),
        ("x" * 501, "adjust", "reason"),
    ],
)
def test_a_bad_reason_or_kind_is_refused_naming_it(
    client: TestClient, world: World, uow: UnitOfWork, reason: str, kind: str, field: str
) -> None:
    content = f"card_no,points\n{world.members[0].card_no},10\n".encode()
    answer = send(client, world, content, reason=reason, kind=kind)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert lines_of(uow) == 0


def test_a_missing_file_or_reason_is_refused_naming_it(client: TestClient, world: World) -> None:
    no_file = client.post(URL, data={"reason": "r"}, headers=world.staff())
    assert no_file.status_code == 422 and no_file.json()["error"]["field"] == "file"
    no_reason = client.post(
        URL, files={"file": ("g.csv", b"card_no,points\n", "text/csv")}, headers=world.staff()
    )
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"


@pytest.mark.parametrize("role", ["marketing", "cashier", "store_manager", "analyst"])
def test_roles_without_adjust_are_refused(
    client: TestClient, world: World, uow: UnitOfWork, role: str
) -> None:
    content = f"card_no,points\n{world.members[0].card_no},10\n".encode()
    assert send(client, world, content, role=role).status_code == 403
    assert lines_of(uow) == 0


def test_admin_may_grant(client: TestClient, world: World) -> None:
    content = f"card_no,points\n{world.members[0].card_no},10\n".encode()
    answer = send(client, world, content, role="admin")
    assert answer.status_code == 200 and answer.json()["granted"] == 1


def test_taking_more_than_held_grants_nothing(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    content = (f"member_id,points\n{world.members[0].id},10\n{world.members[1].id},-500\n").encode()
    answer = send(client, world, content)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "points"
    compensate = send(client, world, content, kind="compensate")
    assert compensate.status_code == 422 and compensate.json()["error"]["field"] == "points"
    assert lines_of(uow) == 0
    assert not uow.session.scalars(select(AuditEvent.id)).all()


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"", "file"),
        (b"card_no,points\n\xff\xfe,10\n", "file"),
    ],
)
def test_files_that_cannot_be_granted_are_refused_naming_the_field(
    client: TestClient, world: World, uow: UnitOfWork, content: bytes, field: str
) -> None:
    answer = send(client, world, content)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert lines_of(uow) == 0


@pytest.mark.parametrize(
    "content",
    [
        b"points\n10\n",
        b"name,age\nx,1\n",
        b"\n\n\n",
        b'member_id,points\n1,"10\n',
        b"member_id,points\n1,1\x00\n",
        b"member_id,points\n1,NaN\n1,sNaN\n1,1.5.5\n,\n",
        b"member_id,points\n99999999999999,1\n-1,1\n1,\n",
        b"card_no,points\n" + b"x" * 200_000 + b",1\n",
        b"\xef\xbb\xbfmember_id,points\n1,1,extra,cells\n",
    ],
)
def test_no_file_content_is_a_server_error(
    client: TestClient, world: World, content: bytes
) -> None:
    answer = send(client, world, content)
    assert answer.status_code < 500, answer.text
    if answer.status_code == 200:
        assert answer.json()["granted"] >= 0 and isinstance(answer.json()["bad"], list)


def test_a_file_too_large_is_refused(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loyalty_api, "MAX_GRANT_FILE", 10)
    answer = send(client, world, b"card_no,points\nC0000001,10\n")
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "file"


@pytest.mark.parametrize(
    "cell", ["inf", "-Infinity", "1e999999999", "99999999999999999999999", "10000001", "1.5"]
)
def test_points_no_ledger_line_holds_are_a_bad_row(
    client: TestClient, world: World, uow: UnitOfWork, cell: str
) -> None:
    content = f"member_id,points\n{world.members[0].id},{cell}\n{world.members[1].id},5\n"
    answer = send(client, world, content.encode())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["granted"] == 1
    assert [row["line"] for row in body["bad"]] == [2]
    assert "whole number" in body["bad"][0]["reason"]
    assert lines_of(uow) == 1
