"""The scheduled jobs for staff: what runs when, how each run went, and running one now."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from regulars.core.errors import Forbidden
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.core.web import UowDep
from regulars.jobs.models import JobRun
from regulars.jobs.registry import JOBS, job_get, job_run, local_day
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount
from regulars.staff.web import Csrf, PageContext, page, page_require

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["jobs"])
Reader = Annotated[PageContext, Depends(page_require("staff.manage"))]
Admin = Annotated[StaffAccount, Depends(require("staff.manage"))]
JobName = Annotated[str, Path(max_length=50, pattern="^[a-z-]+$")]


class RunRead(BaseModel):
    """One run of a job for one day."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    job: str
    day: date
    started_at: datetime
    finished_at: datetime | None
    status: str
    result: dict[str, Any]


class JobRead(BaseModel):
    """A job: when it runs, whether it is due today, and its newest run."""

    name: str
    summary: str
    hour: int
    due_today: bool
    last_run: RunRead | None


def job_runs_recent(session: Session, *, job: str | None = None, limit: int = 50) -> list[JobRun]:
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))


def _jobs(session: Session) -> list[JobRead]:
    today = local_day(utcnow())
    # Each job's newest run, in one query (ids grow with time: a job's newest has its max id).
    newest_ids = select(func.max(JobRun.id)).group_by(JobRun.job)
    newest = {r.job: r for r in session.scalars(select(JobRun).where(JobRun.id.in_(newest_ids)))}
    return [
        JobRead(
            name=job.name,
            summary=job.summary,
            hour=job.hour,
            due_today=job.due(today),
            last_run=RunRead.model_validate(newest[job.name]) if job.name in newest else None,
        )
        for job in JOBS.values()
    ]


def _run_now(factory: sessionmaker[Session], name: str, day: date) -> None:
    """Run a job for ``day`` again (forced), in its own unit of work."""
    with UnitOfWork(factory) as uow:
        job_run(uow, name=name, day=day, force=True)


@pages.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    started: Annotated[str, Query(max_length=50)] = "",
) -> HTMLResponse:
    """Every job with its hour and newest run, the recent runs, and a button to run one."""
    data = {
        "jobs": _jobs(uow.session),
        "runs": job_runs_recent(uow.session, limit=50),
        "started": started,
    }
    return page(request, ctx, "jobs/jobs.html", data)


@pages.post("/jobs/{name}/run")
def jobs_run_page(
    request: Request, uow: UowDep, ctx: Csrf, name: JobName, tasks: BackgroundTasks
) -> RedirectResponse:
    """Run a job now for today, in the background; the page shows its run when done."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    job_get(name)
    audit_record(uow, actor=ctx.account, action="job_run", page="/jobs", detail={"job": name})
    uow.commit()
    tasks.add_task(_run_now, request.app.state.session_factory, name, local_day(utcnow()))
    return RedirectResponse(f"/jobs?started={name}", status_code=303)


@api.get("/jobs", response_model=list[JobRead])
def jobs_list(uow: UowDep, _who: Admin) -> list[JobRead]:
    """The scheduled jobs, the local hour each runs at, and each one's newest run."""
    return _jobs(uow.session)


@api.get("/jobs/runs", response_model=list[RunRead])
def jobs_runs(
    uow: UowDep,
    _who: Admin,
    job: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunRead]:
    """Recent runs, newest first, of every job or of one."""
    if job:
        job_get(job)
    return [RunRead.model_validate(r) for r in job_runs_recent(uow.session, job=job, limit=limit)]


@api.post("/jobs/{name}/run", response_model=RunRead)
def jobs_run_api(uow: UowDep, who: Admin, name: JobName) -> RunRead:
    """Run a job for today now and wait for it (forced: again if it already ran today)."""
    job_get(name)
    audit_record(uow, actor=who, action="job_run", detail={"job": name})
    uow.commit()
    run = job_run(uow, name=name, day=local_day(utcnow()), force=True)
    assert run is not None  # forced runs always run
    return RunRead.model_validate(run)
