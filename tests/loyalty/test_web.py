"""Loyalty pages: programme, points panel on the profile, adjustments with a reason, grant files."""

from __future__ import annotations

import re

from sqlalchemy import select

from regulars.loyalty import queries
from regulars.staff.models import AuditEvent
from tests.factories.loyalty import buy, configure
from tests.factories.web import csrf_of, login, make_staff


def test_programme_page_saves_settings_and_tiers(client, uow, world) -> None:
    make_staff(uow, "mkt", "marketing")
    login(client, "mkt")
    page = client.get("/loyalty")
    assert page.status_code == 200
    token = csrf_of(page.text)
    saved = client.post(
        "/loyalty/programme",
        data={
            "csrf_token": token,
            "name": "常客积分",
            "active": "on",
            "points_per_unit": "2",
            "day_wed": "2",
            "pending_days": "0",
        },
    )
    assert saved.status_code == 200 and "常客积分" in saved.text
    bad = client.post("/loyalty/programme", data={"csrf_token": token, "points_per_unit": "lots"})
    assert bad.status_code == 422
    tiers = client.post(
        "/loyalty/tiers",
        data={
            "csrf_token": token,
            "tiers": "standard, 普通, 0, 1\nsilver, 银卡, 1000, 1.2\ngold, 金卡, 5000, 1.5",
        },
    )
    assert tiers.status_code == 200 and "银卡" in tiers.text
    refused = client.post(
        "/loyalty/tiers", data={"csrf_token": token, "tiers": "silver, 银卡, 1000"}
    )
    assert refused.status_code == 422


def test_profile_shows_points_and_staff_compensate_with_a_reason(client, uow, world) -> None:
    member_id = world.members[0].id
    configure(uow, pending_days=0)
    buy(uow, member_id, "100")
    uow.commit()
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    profile = client.get(f"/members/{member_id}")
    assert 'data-testid="points-available"' in profile.text
    before = queries.points_summary(uow, member_id=member_id).available
    token = csrf_of(profile.text)
    no_reason = client.post(
        f"/members/{member_id}/points",
        data={"csrf_token": token, "points": "50", "kind": "compensate", "reason": " "},
    )
    assert no_reason.status_code == 422
    # More than a ledger line holds is refused naming the field, on every database.
    for typed in ("99999999999", "2147483648", "10000001"):
        huge = client.post(
            f"/members/{member_id}/points",
            data={"csrf_token": token, "points": typed, "kind": "adjust", "reason": "typo"},
        )
        assert huge.status_code == 422, (typed, huge.text)
        assert "points" in huge.text
    done = client.post(
        f"/members/{member_id}/points",
        data={"csrf_token": token, "points": "50", "kind": "compensate", "reason": "broken eggs"},
    )
    assert done.status_code == 200
    assert queries.points_summary(uow, member_id=member_id).available == before + 50
    assert "broken eggs" in done.text
    actions = set(
        uow.session.scalars(select(AuditEvent.action).where(AuditEvent.member_id == member_id))
    )
    assert "points_compensate" in actions


def test_grant_file(client, uow, world) -> None:
    make_staff(uow, "boss", "admin")
    login(client, "boss")
    token = csrf_of(client.get("/loyalty/grants").text)
    content = f"card_no,points\n{world.members[0].card_no},200\nNOSUCH00,10\n{world.members[1].card_no},abc\n".encode()
    answer = client.post(
        "/loyalty/grants",
        data={"csrf_token": token, "reason": "opening balance", "kind": "adjust"},
        files={"file": ("grants.csv", content, "text/csv")},
    )
    assert answer.status_code == 200
    assert re.search(r"1 members received points; 2 rows were not used", answer.text)
    assert queries.points_summary(uow, member_id=world.members[0].id).available >= 200


def test_cashier_cannot_configure_or_adjust(client, uow, world) -> None:
    make_staff(uow, "till", "cashier")
    login(client, "till")
    assert client.get("/loyalty").status_code == 403
    assert client.get("/loyalty/grants").status_code == 403
