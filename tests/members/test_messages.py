"""One member's messages: the profile panel, the staff API route, the outbox's member filter
and ``regulars outbox list --member``; recipients masked, bodies never shown, reads audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import cli_outbox
from regulars.entrypoints.cli import app as cli_app
from regulars.members import service as members_service
from regulars.members.schemas import MemberCreate
from regulars.notify.models import OutboxMessage
from regulars.notify.service import outbox_enqueue
from regulars.staff.models import AuditEvent
from tests.factories.web import login, make_staff
from tests.factories.world import World, build_world

CODE = "314159"  # in the sign-in code's body: must never be shown
LIST_BODY = "LIST-BODY-SECRET"
OTHER_BODY = "BIRTHDAY-OTHER-MEMBER"
# 20:30 UTC is 04:30 the next day in the chain's time zone (Asia/Shanghai).
CREATED = datetime(2024, 3, 1, 20, 30, tzinfo=UTC)


def _queue(uow: UnitOfWork, mine: int, other: int) -> list[OutboxMessage]:
    """A sent sign-in code and a failed list email for ``mine``, a birthday SMS for ``other``."""
    code = outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340001",
        subject=None,
        body=f"您的 Regulars 登录验证码是 {CODE}。",
        member_id=mine,
        purpose="otp",
    )
    code.created_at = CREATED
    code.status, code.attempts, code.sent_at = "sent", 1, CREATED
    failed = outbox_enqueue(
        uow,
        channel="email",
        recipient="zhang.wei@example.com",
        subject="Your list",
        body=LIST_BODY,
        member_id=mine,
        purpose="personal_list",
    )
    failed.status, failed.attempts, failed.last_error = "failed", 3, "550 5.1.1 no such mailbox"
    theirs = outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340002",
        subject=None,
        body=OTHER_BODY,
        member_id=other,
        purpose="birthday",
    )
    uow.commit()
    return [code, failed, theirs]


@pytest.fixture
def world(uow) -> World:
    built = build_world(uow, products=1, members=2)
    _queue(uow, built.members[0].id, built.members[1].id)
    return built


def _events(uow, action: str) -> list[AuditEvent]:
    uow.session.expire_all()
    return list(
        uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _panel(html: str) -> str:
    found = re.search(r'data-testid="panel-messages">(.*?)</section>', html, re.DOTALL)
    assert found, "no messages panel on the profile"
    return found.group(1)


def test_panel_lists_the_members_messages_masked_without_bodies(client, uow, world) -> None:
    make_staff(uow, "sam", "service_desk")
    login(client, "sam")
    mine = world.members[0].id
    page = client.get(f"/members/{mine}")
    assert page.status_code == 200
    panel = _panel(page.text)
    assert "139****0001" in panel and "z***@example.com" in panel
    assert "13912340001" not in panel  # the full number only where the role may see it
    assert "zhang.wei" not in page.text
    assert "2024-03-02 04:30" in panel  # the chain's time, not UTC
    assert "sign-in code" in panel and "personal list" in panel
    assert "550 5.1.1 no such mailbox" in panel and ">3<" in panel  # last error, tries
    # Nothing of the other member's, and no body anywhere on the page.
    assert "139****0002" not in panel and "birthday offer" not in panel
    for body in (CODE, LIST_BODY, OTHER_BODY):
        assert body not in page.text
    assert 'data-testid="member-outbox-link"' not in panel  # the outbox is for admins
    # The page view is the audited read; the panel adds no event of its own.
    assert [e.member_id for e in _events(uow, "profile_view")] == [mine]
    assert _events(uow, "messages_view") == []

    other = _panel(client.get(f"/members/{world.members[1].id}").text)
    assert "139****0002" in other and "birthday offer" in other and "139****0001" not in other


def test_a_store_manager_sees_the_panel_and_an_empty_one_says_so(client, uow, world) -> None:
    # Messages belong to no store: the store scope of a manager does not hide them.
    make_staff(uow, "max", "store_manager", stores=[world.store.id])
    login(client, "max")
    assert "139****0001" in _panel(client.get(f"/members/{world.members[0].id}").text)
    quiet = members_service.member_register(uow, data=MemberCreate(card_no="QUIET01"))
    uow.commit()
    assert 'data-testid="no-messages"' in _panel(client.get(f"/members/{quiet.id}").text)


def test_api_route_for_member_readers_with_404_and_audit(client, uow, world) -> None:
    mine = world.members[0].id
    answer = client.get(f"/api/v1/members/{mine}/messages", headers=world.staff("service_desk"))
    assert answer.status_code == 200
    items = answer.json()
    assert [(m["purpose"], m["status"], m["attempts"]) for m in items] == [
        ("personal_list", "failed", 3),
        ("otp", "sent", 1),
    ]
    assert {m["member_id"] for m in items} == {mine}
    assert {m["recipient_masked"] for m in items} == {"z***@example.com", "139****0001"}
    assert all("body" not in m and "recipient_enc" not in m for m in items)
    assert CODE not in answer.text and LIST_BODY not in answer.text
    assert "zhang.wei" not in answer.text and "13912340001" not in answer.text
    limited = client.get(f"/api/v1/members/{mine}/messages?limit=1", headers=world.staff("cashier"))
    assert limited.status_code == 200 and len(limited.json()) == 1

    [first, second] = _events(uow, "messages_view")
    assert (first.actor, first.member_id, first.page) == (
        "t_service_desk",
        mine,
        f"/api/v1/members/{mine}/messages",
    )
    assert (second.actor, second.member_id) == ("t_cashier", mine)

    assert (
        client.get(f"/api/v1/members/{mine}/messages", headers=world.staff("analyst")).status_code
        == 403
    )
    missing = client.get("/api/v1/members/999999/messages", headers=world.staff("admin"))
    assert missing.status_code == 404
    too_big = client.get("/api/v1/members/2147483648/messages", headers=world.staff("admin"))
    assert too_big.status_code == 422
    assert len(_events(uow, "messages_view")) == 2  # refused reads are not reads


def test_outbox_page_and_api_filter_by_member(client, uow, world) -> None:
    mine, theirs = world.members[0].id, world.members[1].id
    make_staff(uow, "root", "admin")
    login(client, "root")
    profile = _panel(client.get(f"/members/{mine}").text)
    assert f'href="/outbox?member_id={mine}"' in profile  # admins may open the outbox

    page = client.get(f"/outbox?member_id={mine}")
    assert page.status_code == 200
    assert "139****0001" in page.text and "z***@example.com" in page.text
    assert "139****0002" not in page.text
    assert CODE not in page.text and LIST_BODY not in page.text
    everyone = client.get("/outbox")
    assert "139****0002" in everyone.text and "139****0001" in everyone.text
    assert client.get("/outbox?member_id=0").status_code == 422
    assert client.get("/outbox?member_id=2147483648").status_code == 422
    assert client.get("/outbox?member_id=x").status_code == 422

    listed = client.get(f"/api/v1/outbox?member_id={theirs}", headers=world.staff("admin"))
    assert listed.status_code == 200
    assert [m["purpose"] for m in listed.json()["items"]] == ["birthday"]
    assert listed.json()["totals"]["sms"]["sent"] == 1  # totals stay the whole outbox's
    both = client.get(
        f"/api/v1/outbox?member_id={mine}&status=failed", headers=world.staff("admin")
    )
    assert [m["purpose"] for m in both.json()["items"]] == ["personal_list"]
    negative = client.get("/api/v1/outbox?member_id=-1", headers=world.staff("admin"))
    assert negative.status_code == 422
    marketing = client.get(f"/api/v1/outbox?member_id={mine}", headers=world.staff("marketing"))
    assert marketing.status_code == 403

    # Filtered reads name a member and are audited as theirs; the whole outbox is not.
    events = [(e.actor, e.member_id, e.page) for e in _events(uow, "messages_view")]
    assert events == [
        ("root", mine, "/outbox"),
        ("t_admin", theirs, "/api/v1/outbox"),
        ("t_admin", mine, "/api/v1/outbox"),
    ]


runner = CliRunner()


@pytest.fixture
def wide_tables(monkeypatch) -> None:
    """A terminal wide enough that no cell is folded onto a second line."""
    monkeypatch.setattr(cli_outbox.console, "_width", 240)


def _invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_cli_lists_one_members_messages_and_audits(cli_db: str, wide_tables) -> None:
    engine = make_engine(cli_db)
    try:
        with UnitOfWork(make_session_factory(engine)) as unit:
            mine, other = (
                members_service.member_register(unit, data=MemberCreate(card_no=f"CLI{i}")).id
                for i in (1, 2)
            )
            unit.commit()
            _queue(unit, mine, other)

        out = _invoke("outbox", "list", "--member", str(mine))
        assert "139****0001" in out and "z***@example.com" in out
        assert "139****0002" not in out and "birthday offer" not in out
        assert "2024-03-02 04:30" in out and "550 5.1.1 no such mailbox" in out
        assert CODE not in out and LIST_BODY not in out
        failed = _invoke("outbox", "list", "--member", str(mine), "--status", "failed")
        assert "z***@example.com" in failed and "139****0001" not in failed
        everyone = _invoke("outbox", "list")
        assert "139****0002" in everyone

        missing = _invoke("outbox", "list", "--member", "999999", code=1)
        assert "member 999999 not found" in missing and "[member_id]" in missing
        _invoke("outbox", "list", "--member", "0", code=2)

        with UnitOfWork(make_session_factory(engine)) as unit:
            events = [
                (e.actor, e.action, e.member_id, e.page)
                for e in unit.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            ]
        assert events == [
            ("cli", "messages_view", mine, "cli"),
            ("cli", "messages_view", mine, "cli"),
        ]
    finally:
        engine.dispose()
