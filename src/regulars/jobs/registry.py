"""The scheduled jobs, when each is due, and running one exactly once per day."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from regulars.core.config import get_settings
from regulars.core.errors import NotFound
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.jobs.analytics import nightly_job
from regulars.jobs.baskets import baskets_refresh
from regulars.jobs.lists import lists_cycle
from regulars.jobs.models import JobRun
from regulars.jobs.outreach import birthday_offers, member_day_reminders
from regulars.loyalty.coupons import coupons_expire
from regulars.loyalty.service import points_expire, tiers_review
from regulars.members.portal import portal_purge
from regulars.notify.dispatch import outbox_dispatch

log = logging.getLogger(__name__)
# Tiers go down only at a review: the first day of each quarter.
TIER_REVIEW_MONTHS = (1, 4, 7, 10)


@dataclass(frozen=True)
class Job:
    """A job: its name, what it does (catalogue id), the local hour it runs, when it is due."""

    name: str
    summary: str
    hour: int
    run: Callable[[UnitOfWork, date], dict[str, Any]]
    due: Callable[[date], bool] = lambda _day: True


def _expire(uow: UnitOfWork, day: date) -> dict[str, Any]:
    return dict(points_expire(uow, today=day))


def _review(uow: UnitOfWork, day: date) -> dict[str, Any]:
    return dict(tiers_review(uow, today=day))


def _coupons(uow: UnitOfWork, day: date) -> dict[str, Any]:
    return {"expired": coupons_expire(uow)}


def _purge(uow: UnitOfWork, day: date) -> dict[str, Any]:
    return {"deleted": portal_purge(uow)}


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("points-expire", _("expire points past their date"), 1, _expire),
        Job(
            "tiers-review",
            _("review tiers (the only time they go down)"),
            2,
            _review,
            lambda day: day.day == 1 and day.month in TIER_REVIEW_MONTHS,
        ),
        Job(
            "birthday-offers",
            _("birthday greetings with the birthday coupon and bonus"),
            9,
            lambda uow, day: birthday_offers(uow, today=day),
        ),
        Job(
            "member-day-reminders",
            _("remind members the day before member day"),
            10,
            lambda uow, day: member_day_reminders(uow, today=day),
        ),
        Job(
            "lists-cycle",
            _("generate and announce personal lists when a cycle is due"),
            6,
            lambda uow, day: lists_cycle(uow, today=day),
        ),
        Job("coupons-expire", _("mark unused coupons past their date expired"), 1, _coupons),
        Job("portal-purge", _("delete expired member sign-in codes and sessions"), 3, _purge),
        Job(
            "analytics-nightly",
            _("score members: RFM, pyramid, churn, CLV, life stage"),
            4,
            nightly_job,
        ),
        Job("baskets-refresh", _("mine association rules of the last 90 days"), 5, baskets_refresh),
    )
}


def job_get(name: str) -> Job:
    """A job by name, or ``NotFound``."""
    if name not in JOBS:
        raise NotFound(_("no job named {name}"), field="job", name=name)
    return JOBS[name]


def job_run(uow: UnitOfWork, *, name: str, day: date, force: bool = False) -> JobRun | None:
    """Run a job for ``day`` unless it already ran (or is not due); record the run.

    The (job, day) row is claimed first with ``INSERT … ON CONFLICT DO NOTHING`` and
    committed, so two schedulers (or a scheduler and a person at the CLI) never run the
    same day twice; ``force`` runs again and records the new result.
    """
    job = job_get(name)
    if not force and not job.due(day):
        return None
    dialect = uow.session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claimed = uow.session.execute(
        builder(JobRun)
        .values(job=name, day=day, started_at=utcnow(), status="running", result={})
        .on_conflict_do_nothing(index_elements=["job", "day"])
        .returning(JobRun.id)
    ).scalar_one_or_none()
    if claimed is None and not force:
        return None
    uow.commit()
    run = uow.session.scalars(select(JobRun).where(JobRun.job == name, JobRun.day == day)).one()
    try:
        result = job.run(uow, day)
    except Exception as exc:  # recorded for staff to see, then raised to the caller
        uow.rollback()
        run = uow.session.scalars(select(JobRun).where(JobRun.job == name, JobRun.day == day)).one()
        run.status, run.finished_at, run.result = "failed", utcnow(), {"error": str(exc)[:500]}
        uow.commit()
        raise
    run.status, run.finished_at, run.result = "done", utcnow(), result
    uow.commit()
    return run


def local_day(now: datetime) -> date:
    """The day it is at ``now`` in the chain's time zone (what jobs run for)."""
    return now.astimezone(ZoneInfo(get_settings().timezone)).date()


def jobs_due(now: datetime) -> list[tuple[str, date]]:
    """The jobs whose hour has come today in the chain's time zone."""
    local = now.astimezone(ZoneInfo(get_settings().timezone))
    return [(job.name, local.date()) for job in JOBS.values() if local.hour >= job.hour]


def run_due(session_factory: sessionmaker[Session], *, now: datetime | None = None) -> list[str]:
    """Run every job that is due and has not run today; the names of those that ran."""
    ran: list[str] = []
    for name, day in jobs_due(now or utcnow()):
        with UnitOfWork(session_factory) as uow:
            try:
                if job_run(uow, name=name, day=day) is not None:
                    ran.append(name)
            except Exception:  # one failing job must not stop the others
                log.exception("job %s failed", name)
    return ran


def scheduler_thread(
    session_factory: sessionmaker[Session], *, every: float = 60.0
) -> threading.Event:
    """Start the in-process scheduler (a daemon thread); set the returned event to stop it.

    Each minute it runs the daily jobs that are due and sends the outbox.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            run_due(session_factory)
            try:  # messages every minute, not once a day: sign-in codes cannot wait
                outbox_dispatch(session_factory)
            except Exception:  # a broken transport must not stop the scheduler
                log.exception("outbox dispatch failed")
            stop.wait(every)

    threading.Thread(target=loop, name="regulars-scheduler", daemon=True).start()
    return stop
