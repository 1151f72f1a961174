"""Scoring settings: RFM by quintiles or fixed cut points, and the pyramid's tier shares —
stored, validated, used by the next run, and changed from the page, the API and the CLI."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core.errors import InvalidInput
from regulars.entrypoints.cli import app as cli_app
from regulars.insights import service
from regulars.insights.models import MemberScore
from regulars.insights.schemas import InsightSettingsUpdate
from regulars.jobs.analytics import analytics_run_in
from regulars.staff.models import AuditEvent
from tests.factories.web import csrf_of, login, make_staff
from tests.insights.test_run import AS_OF, demo  # noqa: F401  (the demo slice fixture)

runner = CliRunner()


def audits(uow) -> list[AuditEvent]:
    uow.session.expire_all()
    return list(
        uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "insight_settings")
            .order_by(AuditEvent.id)
        )
    )


def test_defaults_changes_and_refusals(uow) -> None:
    found = service.settings_get(uow)
    assert (found.rfm_recency, found.rfm_frequency, found.rfm_monetary) == (None, None, None)
    assert (found.pyramid_platinum, found.pyramid_gold, found.pyramid_iron) == (0.05, 0.15, 0.30)
    data = InsightSettingsUpdate(rfm_recency=[7, 30, 90, 180], pyramid_gold=0.2)
    found, changed = service.settings_update(uow, data=data, actor="ana")
    assert found.rfm_recency == [7, 30, 90, 180] and found.pyramid_gold == 0.2
    assert changed == {
        "rfm_recency": {"from": None, "to": [7, 30, 90, 180]},
        "pyramid_gold": {"from": 0.15, "to": 0.2},
    }
    assert found.updated_by == "ana"
    # Sending null goes back to quintiles; leaving a field out keeps it.
    found, changed = service.settings_update(
        uow, data=InsightSettingsUpdate(rfm_recency=None), actor="ana"
    )
    assert found.rfm_recency is None and found.pyramid_gold == 0.2
    for bad, field in (
        ({"rfm_frequency": [1, 2, 2, 3]}, "rfm_frequency"),
        ({"rfm_monetary": [1, 2, 3]}, "rfm_monetary"),
        ({"rfm_recency": [1, 2, 3, -4]}, "rfm_recency"),
        ({"pyramid_iron": 1.5}, "pyramid_iron"),
        ({"rfm_recency": ["a", 2, 3, 4]}, "rfm_recency"),
    ):
        with pytest.raises(ValidationError) as caught:
            InsightSettingsUpdate.model_validate(bad)
        assert caught.value.errors()[0]["loc"][0] == field
    with pytest.raises(InvalidInput) as refused:
        service.settings_update(
            uow, data=InsightSettingsUpdate(pyramid_platinum=0.5, pyramid_iron=0.4), actor="x"
        )
    assert refused.value.field == "pyramid_iron"


def test_the_next_run_scores_with_the_stored_cut_points(demo) -> None:  # noqa: F811
    uow = demo
    first = analytics_run_in(uow, as_of=AS_OF, started_by="test")
    spread = set(
        uow.session.scalars(
            select(MemberScore.r_score).where(MemberScore.run_id == first.id).distinct()
        )
    )
    assert spread == {1, 2, 3, 4, 5}  # quintiles use every score
    assert first.params["rfm_cuts"] == {"recency": None, "frequency": None, "monetary": None}
    # Nobody visited within 4 days of AS_OF (the data ends in 2017), and nobody made 1,000
    # visits: with these cut points every member scores 1 on both.
    service.settings_update(
        uow,
        data=InsightSettingsUpdate(
            rfm_recency=[1, 2, 3, 4], rfm_frequency=[1000, 2000, 3000, 4000], pyramid_platinum=0.5
        ),
        actor="test",
    )
    second = analytics_run_in(uow, as_of=AS_OF, started_by="test")
    scores = uow.session.execute(
        select(MemberScore.r_score, MemberScore.f_score).where(MemberScore.run_id == second.id)
    ).all()
    assert scores and {(r, f) for r, f in scores} == {(1, 1)}
    assert second.params["rfm_cuts"]["recency"] == [1, 2, 3, 4]
    assert second.params["pyramid_shares"]["platinum"] == 0.5
    tiers = {t["tier"]: t["members"] for t in second.summary["tiers"]}
    ranked = sum(tiers.values())  # the members with sales in the pyramid's window
    assert abs(tiers["platinum"] - ranked * 0.5) <= 2  # half of them, give or take ties
    assert tiers["platinum"] > {t["tier"]: t["members"] for t in first.summary["tiers"]}["platinum"]


def test_api_roles_and_audit(client, uow, world) -> None:
    path = "/api/v1/insights/settings"
    shown = client.get(path, headers=world.staff("marketing"))
    assert shown.status_code == 200 and shown.json()["rfm_recency"] is None
    body = {"rfm_monetary": [200, 500, 1000, 3000]}
    assert client.put(path, json=body, headers=world.staff("marketing")).status_code == 403
    changed = client.put(path, json=body, headers=world.staff("analyst"))
    assert changed.status_code == 200 and changed.json()["rfm_monetary"] == [200, 500, 1000, 3000]
    bad = client.put(path, json={"rfm_monetary": [3, 2, 1, 0]}, headers=world.staff("analyst"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "rfm_monetary"
    over = client.put(
        path, json={"pyramid_platinum": 0.9, "pyramid_gold": 0.2}, headers=world.staff("admin")
    )
    assert over.status_code == 422 and over.json()["error"]["field"] == "pyramid_iron"
    [event] = audits(uow)
    assert event.detail == {"rfm_monetary": {"from": None, "to": [200, 500, 1000, 3000]}}


def test_page_shows_saves_and_refuses(client, uow, world) -> None:
    make_staff(uow, "ana", "analyst", locale="en")
    login(client, "ana")
    page = client.get("/insights/settings")
    assert page.status_code == 200 and 'data-testid="scoring-settings"' in page.text
    assert 'data-testid="scoring-settings-link"' in client.get("/insights").text
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "rfm_recency": "7，30, 90, 180",  # a Chinese comma too
        "rfm_frequency": "",
        "rfm_monetary": "",
        "pyramid_platinum": "10",
        "pyramid_gold": "15",
        "pyramid_iron": "30",
    }
    saved = client.post("/insights/settings", data=form, follow_redirects=False)
    assert saved.status_code == 303
    found = service.settings_get(uow)
    uow.session.refresh(found)
    assert found.rfm_recency == [7, 30, 90, 180] and found.pyramid_platinum == 0.1
    again = client.get("/insights/settings?saved=1")
    assert 'value="7, 30, 90, 180"' in again.text and 'data-testid="settings-saved"' in again.text
    bad = client.post(
        "/insights/settings", data={**form, "rfm_frequency": "9, 3, x, 1"}, follow_redirects=False
    )
    assert bad.status_code == 422 and 'data-testid="form-error"' in bad.text
    assert 'value="9, 3, x, 1"' in bad.text  # what was typed stays in the form
    wide = client.post("/insights/settings", data={**form, "pyramid_iron": "95"})
    assert wide.status_code == 422
    assert len(audits(uow)) == 1
    make_staff(uow, "mkt", "marketing", locale="zh_CN")
    login(client, "mkt")
    chinese = client.get("/insights/settings")
    assert chinese.status_code == 200 and "评分设置" in chinese.text
    assert 'data-testid="save-settings"' not in chinese.text
    refused = client.post("/insights/settings", data={**form, "csrf_token": csrf_of(chinese.text)})
    assert refused.status_code == 403


def test_cli_shows_and_changes(cli_db: str) -> None:
    assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
    shown = runner.invoke(cli_app, ["analytics", "settings"])
    assert shown.exit_code == 0 and "quintiles" in shown.output
    changed = runner.invoke(
        cli_app, ["analytics", "settings", "--recency", "7,30,90,180", "--platinum", "10"]
    )
    assert changed.exit_code == 0, changed.output
    assert "7, 30, 90, 180" in changed.output and "10" in changed.output
    back = runner.invoke(cli_app, ["analytics", "settings", "--recency", "quintiles"])
    assert back.exit_code == 0 and "7, 30, 90, 180" not in back.output
    bad = runner.invoke(cli_app, ["analytics", "settings", "--frequency", "5,4,3,2"])
    assert bad.exit_code == 2 and "[rfm_frequency]" in bad.output
