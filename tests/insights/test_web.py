"""Insights pages and API over a stored run: charts with tables, lists, the profile panel."""

from __future__ import annotations

from sqlalchemy import select

from regulars.staff.models import AuditEvent
from tests.factories.insights import stored_run
from tests.factories.web import login, make_staff


def test_overview_without_a_run_says_how_to_make_one(client, uow, world) -> None:
    make_staff(uow, "ana", "analyst")
    login(client, "ana")
    page = client.get("/insights")
    assert page.status_code == 200 and 'data-testid="no-run"' in page.text


def test_overview_draws_charts_and_movement_in_both_languages(client, uow, world) -> None:
    ids = [m.id for m in world.members]
    stored_run(uow, ids, segment="loyal")
    run = stored_run(uow, ids, segment="champions")
    uow.commit()
    make_staff(uow, "mkt", "marketing", locale="en")
    login(client, "mkt")
    page = client.get("/insights")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 4  # segments, pyramid, Pareto, churn trend, CLV, signals
    assert "champions" in page.text and 'data-testid="movement"' in page.text
    assert "61.0%" in page.text  # top-20% share
    chosen = client.get(f"/insights?run_id={run.id}")
    assert chosen.status_code == 200
    make_staff(uow, "mkt2", "marketing", locale="zh_CN")
    login(client, "mkt2")
    chinese = client.get("/insights")
    assert "冠军" in chinese.text or "核心" in chinese.text  # the segment's Chinese name
    listed = client.get("/insights/members?tier=gold&order=profit")
    assert listed.status_code == 200 and f"/members/{ids[-1]}" in listed.text
    bad = client.get("/insights/members?order=nonsense")
    assert bad.status_code == 422


def test_profile_panel_and_api_show_a_members_scores(client, uow, world) -> None:
    ids = [m.id for m in world.members]
    stored_run(uow, ids)
    uow.commit()
    make_staff(uow, "desk", "store_manager")
    login(client, "desk")
    profile = client.get(f"/members/{ids[0]}")
    assert 'data-testid="member-scores"' in profile.text
    latest = client.get("/api/v1/insights/runs/latest", headers=world.staff("analyst"))
    assert latest.status_code == 200 and latest.json()["summary"]["members"] == len(ids)
    mine = client.get(f"/api/v1/members/{ids[0]}/insights", headers=world.staff("marketing"))
    body = mine.json()
    assert body["score"]["rfm_segment"] == "champions" and body["signals"][0]["signal"] == "baby"
    audited = uow.session.scalars(
        select(AuditEvent).where(
            AuditEvent.member_id == ids[0], AuditEvent.action == "member_insights_view"
        )
    ).all()
    assert audited
    listing = client.get(
        "/api/v1/insights/members?churn_status=at_risk&limit=2", headers=world.staff("analyst")
    )
    assert listing.json()["total"] == len(ids) and len(listing.json()["items"]) == 2
    wrong = client.get("/api/v1/insights/members?tier=bronze", headers=world.staff("analyst"))
    assert wrong.status_code == 422
