"""Merging a duplicate from the staff app: find it, compare the two, merge, see the record.

Also the possible duplicates (same name, no other birthday) on the page, the API and the CLI.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app as cli
from regulars.members import queries, service
from regulars.members.models import Member
from regulars.members.schemas import MemberCreate
from regulars.sales.models import Receipt
from regulars.staff.models import AuditEvent
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import World, build_world, receipt_payload


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow)


def _register(uow: UnitOfWork, **fields: Any) -> Member:
    member = service.member_register(uow, data=MemberCreate(**fields), source="test")
    uow.commit()
    return member


def _audits(uow: UnitOfWork, action: str, member_id: int) -> int:
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.member_id == member_id)
    )
    return int(uow.session.scalar(query) or 0)


def test_possible_duplicates_have_the_name_and_no_other_birthday(uow: UnitOfWork) -> None:
    kept = _register(uow, card_no="DUP00001", name="李娜", birthday=date(1990, 5, 1))
    same = _register(uow, card_no="DUP00002", name="李娜", birthday=date(1990, 5, 1))
    unknown = _register(uow, mobile="13800000077", name="李娜")
    _register(uow, card_no="DUP00003", name="李娜", birthday=date(1988, 1, 2))  # other birthday
    _register(uow, card_no="DUP00004", name="李明", birthday=date(1990, 5, 1))  # other name
    found = queries.duplicate_candidates(uow.session, member_id=kept.id)
    assert [m.id for m in found] == [same.id, unknown.id]
    # Without a birthday, every member of the name may be the same person.
    assert len(queries.duplicate_candidates(uow.session, member_id=unknown.id)) == 3
    nameless = _register(uow, card_no="DUP00005")
    assert queries.duplicate_candidates(uow.session, member_id=nameless.id) == []


def test_staff_merge_a_duplicate_from_the_page(client: Any, uow: UnitOfWork, world: World) -> None:
    kept, duplicate = world.members
    payload = receipt_payload(world, "DUP-1")
    payload["member"] = {"member_id": duplicate.id}
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    profile = client.get(f"/members/{kept.id}")
    assert f'href="/members/{kept.id}/merge"' in profile.text
    assert 'data-testid="duplicates"' not in profile.text  # the world's members differ
    _register(uow, card_no="DUP00099", name=kept.name)
    again = client.get(f"/members/{kept.id}")
    assert "1 possible duplicates (same name, no other birthday)" in again.text

    missing = client.get(f"/members/{kept.id}/merge", params={"other": "NOSUCHCARD"})
    assert missing.status_code == 404 and "no member found for NOSUCHCARD" in missing.text
    itself = client.get(f"/members/{kept.id}/merge", params={"other": f"#{kept.id}"})
    assert itself.status_code == 422 and "cannot be merged into itself" in itself.text

    # By card number: both shown side by side, both reads audited.
    compare = client.get(f"/members/{kept.id}/merge", params={"other": duplicate.card_no})
    assert compare.status_code == 200
    assert 'data-testid="duplicate"' in compare.text and 'name="merged_id"' in compare.text
    assert _audits(uow, "merge_preview", duplicate.id) == 1
    merged = client.post(
        f"/members/{kept.id}/merge",
        data={"csrf_token": csrf_of(compare.text), "merged_id": duplicate.id, "reason": "两张卡"},
        follow_redirects=True,
    )
    assert merged.status_code == 200
    assert f"#{duplicate.id} → #{kept.id}" in merged.text and "两张卡" in merged.text
    receipt = uow.session.scalars(select(Receipt).where(Receipt.receipt_no == "DUP-1")).one()
    assert receipt.member_id == kept.id
    assert _audits(uow, "member_merge", kept.id) == 1

    # Again: the duplicate is merged now, and the page says why nothing happens.
    again = client.post(
        f"/members/{kept.id}/merge",
        data={"csrf_token": csrf_of(compare.text), "merged_id": duplicate.id},
    )
    assert again.status_code == 409 and "is merged and cannot be merged" in again.text
    bad = client.post(
        f"/members/{kept.id}/merge",
        data={"csrf_token": csrf_of(compare.text), "merged_id": "x"},
    )
    assert bad.status_code == 422


def test_merging_needs_the_merge_permission(client: Any, uow: UnitOfWork, world: World) -> None:
    kept, duplicate = world.members
    make_staff(uow, "mkt", "marketing")
    login(client, "mkt")
    assert "/merge" not in client.get(f"/members/{kept.id}").text
    assert client.get(f"/members/{kept.id}/merge").status_code == 403
    token = csrf_of(client.get(f"/members/{kept.id}").text)
    refused = client.post(
        f"/members/{kept.id}/merge", data={"csrf_token": token, "merged_id": duplicate.id}
    )
    assert refused.status_code == 403
    assert uow.session.get(Member, duplicate.id).status == "active"  # type: ignore[union-attr]


def test_duplicates_api(client: Any, uow: UnitOfWork, world: World) -> None:
    kept = _register(uow, card_no="DUP00011", name="王芳")
    same = _register(uow, card_no="DUP00012", name="王芳")
    answer = client.get(f"/api/v1/members/{kept.id}/duplicates", headers=world.staff("admin"))
    assert answer.status_code == 200
    assert [m["id"] for m in answer.json()] == [same.id]
    assert client.get("/api/v1/members/999999/duplicates", headers=world.staff()).status_code == 404


def test_duplicates_cli(cli_db: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    for card in ("CLI00001", "CLI00002"):
        made = runner.invoke(cli, ["members", "register", "--card", card, "--name", "赵伟"])
        assert made.exit_code == 0, made.output
    listed = runner.invoke(cli, ["members", "duplicates", "1"])
    assert listed.exit_code == 0, listed.output
    assert "CLI00002" in listed.output and re.search(r"members merge 1 ID", listed.output)
    unknown = runner.invoke(cli, ["members", "duplicates", "999"])
    assert unknown.exit_code != 0
