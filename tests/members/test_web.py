"""Member pages: search, profile (audited), masking by role, edit, consents, export, erase."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from regulars.members.models import Member
from regulars.sales.models import Receipt
from regulars.staff.models import AuditEvent
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import World, build_world, receipt_payload


@pytest.fixture
def world(uow, client) -> World:
    built = build_world(uow)
    assert (
        client.post(
            "/api/v1/receipts", json=receipt_payload(built, "W-1"), headers=built.till()
        ).status_code
        == 201
    )
    return built


def _audits(uow, action: str, member_id: int) -> int:
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.member_id == member_id)
    )
    return int(uow.session.scalar(query) or 0)


def test_search_and_profile_view_is_audited(client, uow, world) -> None:
    make_staff(uow, "sam", "service_desk")
    login(client, "sam")
    found = client.get("/members", params={"q": "Member 1"})
    assert f'href="/members/{world.members[0].id}"' in found.text
    member_id = world.members[0].id
    profile = client.get(f"/members/{member_id}")
    assert profile.status_code == 200
    assert "+8613912340001" in profile.text  # the service desk may see the full number
    assert "W-1" in profile.text  # the receipts panel
    assert 'href="/receipts/' in profile.text  # each receipt opens its page (sales.read)
    assert _audits(uow, "profile_view", member_id) == 1


def test_marketing_sees_the_mobile_masked(client, uow, world) -> None:
    make_staff(uow, "mia", "marketing")
    login(client, "mia")
    profile = client.get(f"/members/{world.members[0].id}")
    assert "139****0001" in profile.text and "13912340001" not in profile.text


def test_analyst_cannot_open_profiles(client, uow, world) -> None:
    make_staff(uow, "ana", "analyst")
    login(client, "ana")
    assert client.get(f"/members/{world.members[0].id}").status_code == 403
    assert _audits(uow, "profile_view", world.members[0].id) == 0


def test_edit_profile_and_consents(client, uow, world) -> None:
    make_staff(uow, "sue", "service_desk")
    login(client, "sue")
    member_id = world.members[1].id
    token = csrf_of(client.get(f"/members/{member_id}").text)
    saved = client.post(
        f"/members/{member_id}/edit",
        data={
            "csrf_token": token,
            "name": "周二",
            "community": "翠苑小区",
            "children_birth_years": "2018, 2021",
            "pets": "狗",
            "hobbies": "烘焙，跑步",
        },
    )
    assert saved.status_code == 200
    member = uow.session.get(Member, member_id)
    uow.session.refresh(member)
    assert (member.name, member.community, member.children_birth_years, member.hobbies) == (
        "周二",
        "翠苑小区",
        [2018, 2021],
        ["烘焙", "跑步"],
    )
    bad = client.post(
        f"/members/{member_id}/edit", data={"csrf_token": token, "birthday": "2099-01-01"}
    )
    assert bad.status_code == 422 and "birthday" in bad.text
    client.post(
        f"/members/{member_id}/consents",
        data={"csrf_token": token, "purpose": "marketing", "channel": "email", "granted": "true"},
    )
    page = client.get(f"/members/{member_id}")
    assert "staff:sue" in page.text
    assert _audits(uow, "consent_change", member_id) == 1


def test_export_and_erase(client, uow, world) -> None:
    make_staff(uow, "root", "admin")
    login(client, "root")
    member_id = world.members[0].id
    exported = client.get(f"/members/{member_id}/export")
    assert exported.status_code == 200
    data = json.loads(exported.text)
    assert data["profile"]["mobile"] == "+8613912340001"
    assert [r["receipt_no"] for r in data["receipts"]] == ["W-1"]
    token = csrf_of(client.get(f"/members/{member_id}").text)
    refused = client.post(
        f"/members/{member_id}/erase", data={"csrf_token": token, "confirm": "nope"}
    )
    assert refused.status_code == 422
    erased = client.post(
        f"/members/{member_id}/erase", data={"csrf_token": token, "confirm": str(member_id)}
    )
    assert erased.status_code == 200
    member = uow.session.get(Member, member_id)
    uow.session.refresh(member)
    assert (
        member.status == "erased"
        and member.name is None
        and member.mobile_enc is None
        and member.card_no is None
    )
    receipts = uow.session.scalars(select(Receipt).where(Receipt.receipt_no == "W-1")).all()
    assert len(receipts) == 1 and receipts[0].member_id is None  # kept for aggregates, unlinked
    assert _audits(uow, "member_export", member_id) == 1
    assert _audits(uow, "member_erase", member_id) == 1
    assert (
        client.post(
            "/api/v1/till/identify", json={"mobile": "13912340001"}, headers=world.till()
        ).status_code
        == 404
    )


def test_api_export_erase_and_audit(client, uow, world) -> None:
    member_id = world.members[1].id
    assert (
        client.get(f"/api/v1/members/{member_id}", headers=world.staff("cashier")).status_code
        == 200
    )
    assert _audits(uow, "profile_view", member_id) == 1
    assert (
        client.get(
            f"/api/v1/members/{member_id}/export", headers=world.staff("marketing")
        ).status_code
        == 403
    )
    assert (
        client.get(
            f"/api/v1/members/{member_id}/export", headers=world.staff("service_desk")
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/members/{member_id}/erase", headers=world.staff("service_desk")
        ).status_code
        == 403
    )
    erased = client.post(f"/api/v1/members/{member_id}/erase", headers=world.staff("admin"))
    assert erased.status_code == 200 and erased.json()["status"] == "erased"
    assert (
        client.post(f"/api/v1/members/{member_id}/erase", headers=world.staff("admin")).status_code
        == 409
    )


def test_form_errors_read_in_the_staff_members_language(client, uow) -> None:
    make_staff(uow, "desk_zh", "admin", locale="zh_CN")
    login(client, "desk_zh")
    token = csrf_of(client.get("/members").text)
    bad_mobile = client.post("/members", data={"mobile": "123", "csrf_token": token})
    assert bad_mobile.status_code == 422
    assert "123 不是有效的大陆手机号" in bad_mobile.text
    assert "mainland" not in bad_mobile.text
    short_card = client.post("/members", data={"card_no": "ab", "csrf_token": token})
    assert short_card.status_code == 422
    assert "card_no：至少 4 个字符" in short_card.text
