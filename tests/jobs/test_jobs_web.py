"""The scheduled jobs page and API: every job listed, runs shown, running one now."""

from __future__ import annotations

from sqlalchemy import select

from regulars.jobs.models import JobRun
from regulars.jobs.registry import JOBS
from regulars.staff.models import AuditEvent
from tests.factories.web import login, make_staff
from tests.factories.world import build_world


def test_jobs_page_lists_jobs_and_runs_one(client, uow) -> None:
    make_staff(uow, "root", "admin", locale="en")
    login(client, "root")
    page = client.get("/jobs")
    assert page.status_code == 200
    for name in JOBS:
        assert f"<code>{name}</code>" in page.text
    assert "No job has run yet." in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    started = client.post(
        "/jobs/coupons-expire/run", data={"csrf_token": token}, follow_redirects=False
    )
    assert started.status_code == 303 and "started=coupons-expire" in started.headers["location"]
    uow.session.expire_all()
    run = uow.session.scalars(select(JobRun).where(JobRun.job == "coupons-expire")).one()
    assert run.status == "done" and "expired" in run.result
    after = client.get("/jobs")
    assert "coupons-expire" in after.text and '"expired"' in after.text
    assert uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "job_run")).first()
    missing = client.post("/jobs/no-such-job/run", data={"csrf_token": token})
    assert missing.status_code == 404


def test_jobs_api(client, uow) -> None:
    world = build_world(uow, members=1)
    admin = world.staff("admin")
    listed = client.get("/api/v1/jobs", headers=admin).json()
    assert [j["name"] for j in listed] == list(JOBS)
    ran = client.post("/api/v1/jobs/portal-purge/run", headers=admin)
    assert ran.status_code == 200 and ran.json()["status"] == "done"
    again = client.post("/api/v1/jobs/portal-purge/run", headers=admin)
    assert again.status_code == 200  # forced: runs again the same day
    runs = client.get("/api/v1/jobs/runs?job=portal-purge", headers=admin).json()
    assert len(runs) == 1 and runs[0]["job"] == "portal-purge"  # one row per job and day
    newest = next(
        j for j in client.get("/api/v1/jobs", headers=admin).json() if j["name"] == "portal-purge"
    )
    assert newest["last_run"]["status"] == "done"
    assert client.get("/api/v1/jobs/runs?job=nope", headers=admin).status_code == 404
    assert client.post("/api/v1/jobs/BAD!/run", headers=admin).status_code == 422
    assert client.get("/api/v1/jobs", headers=world.staff("marketing")).status_code == 403
