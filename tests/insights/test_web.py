"""Insights pages and API over a stored run: charts with tables, lists, the profile panel."""

from __future__ import annotations

from sqlalchemy import select

from regulars.insights import queries
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
    make_staff(uow, "desk", "store_manager", stores=[world.store.id])
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


def test_loss_making_members_are_named_on_the_page_api_and_in_segments(client, uow, world) -> None:
    ids = [m.id for m in world.members]
    assert len(ids) >= 3
    run = stored_run(uow, ids, losers=2)
    uow.commit()
    make_staff(uow, "ana", "analyst", locale="en")
    login(client, "ana")
    overview = client.get("/insights")
    assert 'data-testid="loss-makers-link"' in overview.text
    page = client.get("/insights/members?loss_making=true&order=loss")
    assert page.status_code == 200 and "Loss-making members" in page.text
    assert "2 members" in page.text
    # Largest loss first: the last member lost 2, the one before lost 1.
    assert page.text.index(f"/members/{ids[-1]}") < page.text.index(f"/members/{ids[-2]}")
    assert f'/members/{ids[0]}"' not in page.text
    api = client.get(
        "/api/v1/insights/members?loss_making=true&order=loss", headers=world.staff("analyst")
    )
    body = api.json()
    assert body["total"] == 2
    assert [i["member_id"] for i in body["items"]] == [ids[-1], ids[-2]]
    assert all(i["loss_making"] and i["tier"] == "lead" for i in body["items"])
    assert queries.segment_member_ids(
        uow.session, run_id=run.id, filters={}, loss_making=True
    ) == sorted(ids[-2:])
