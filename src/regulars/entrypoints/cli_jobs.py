"""Commands for scheduled work, points and coupons: ``regulars jobs …``, ``regulars points …``
and ``regulars points coupons …``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError, NotFound
from regulars.core.i18n import _, translate
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_loyalty import attach_loyalty_commands
from regulars.entrypoints.cli_text import fold, say
from regulars.jobs.jobs_web import job_runs_recent
from regulars.jobs.registry import JOBS, job_get, job_run, scheduler_thread
from regulars.loyalty import coupons as loyalty_coupons
from regulars.loyalty import programme as loyalty_programme
from regulars.loyalty import queries as loyalty_queries
from regulars.loyalty import rules as loyalty_rules
from regulars.loyalty import service as loyalty_service
from regulars.loyalty.grants import parse_grants
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import CouponIssueIn
from regulars.members.queries import member_get
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
jobs_app = typer.Typer(
    help="Scheduled work: expiry, tier review, birthday offers, reminders.", no_args_is_help=True
)
points_app = typer.Typer(
    help="Members' points: show, adjust, grant from a file; coupons.", no_args_is_help=True
)
coupons_app = typer.Typer(
    help="Members' coupons: list, issue as compensation, exchange points, void; rewards.",
    no_args_is_help=True,
)
points_app.add_typer(coupons_app, name="coupons")


@jobs_app.command("list")
def jobs_list() -> None:
    """The jobs and the local hour each runs at."""
    table = Table(say(_("Job")), say(_("Hour")), say(_("What it does")))
    locale = get_settings().default_locale
    for job in JOBS.values():
        table.add_row(job.name, f"{job.hour:02d}:00", translate(job.summary, locale))
    console.print(table)


@jobs_app.command("runs")
def jobs_runs(
    job: Annotated[str | None, typer.Option(help="only this job's runs")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="runs shown")] = 50,
) -> None:
    """Recent runs, newest first, as the /jobs page lists them: did last night's work run?"""
    if job:
        try:
            job_get(job)
        except DomainError as exc:
            fail(exc)
    table = Table(
        Column(say(_("Job")), no_wrap=True),
        Column(say(_("Day")), no_wrap=True),
        say(_("Started")),
        say(_("Finished")),
        Column(say(_("Status")), no_wrap=True),
        fold(say(_("Result"))),
    )
    with context.new_uow() as uow:
        for run in job_runs_recent(uow.session, job=job, limit=limit):
            table.add_row(
                run.job,
                run.day.isoformat(),
                local_time(run.started_at, "%m-%d %H:%M"),  # the year is the day's
                local_time(run.finished_at, "%m-%d %H:%M"),
                say(label(run.status)),
                json.dumps(run.result, ensure_ascii=False, default=str),
            )
    console.print(table)


@jobs_app.command("run")
def jobs_run(
    name: str,
    day: Annotated[
        str | None, typer.Option(help="the day to run for (YYYY-MM-DD); today by default")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="run even if not due or already run that day")
    ] = False,
) -> None:
    """Run one job now (once per day unless --force)."""
    when = date.fromisoformat(day) if day else date.today()  # noqa: DTZ011 - the operator's day
    with context.new_uow() as uow:
        try:
            run = job_run(uow, name=name, day=when, force=force)
        except DomainError as exc:
            fail(exc)
    if run is None:
        console.print(
            say(_("{name}: not due on {day} or already run (use --force)"), name=name, day=when)
        )
    else:
        console.print(f"{name} {when}: {say(label(run.status))} {run.result}")


@jobs_app.command("scheduler")
def jobs_scheduler(
    every: Annotated[float, typer.Option(help="seconds between checks")] = 60.0,
) -> None:
    """Run due jobs in the foreground until interrupted (for cron-less deployments)."""
    stop = scheduler_thread(context.session_factory(), every=every)
    console.print(say(_("scheduler running; Ctrl-C to stop")))
    try:
        stop.wait()
    except KeyboardInterrupt:
        stop.set()


@points_app.command("show")
def points_show(member_id: int) -> None:
    """A member's points: balance, pending, expiring, tier, and the newest ledger lines."""
    with context.new_uow() as uow:
        try:
            summary = loyalty_queries.points_summary(uow, member_id=member_id)
        except DomainError as exc:
            fail(exc)
        lines = loyalty_queries.points_history(uow.session, member_id=member_id, limit=20)
        console.print(summary.model_dump(mode="json"))
        table = Table(
            say(_("Time")), say(_("Kind")), say(_("Points")), say(_("Source")), say(_("Reason"))
        )
        for line in lines:
            table.add_row(
                local_time(line.created_at, "%Y-%m-%d %H:%M"),
                say(label(line.kind)),
                str(line.points),
                f"{line.source_type} {line.source_id or ''}",
                line.reason or "",
            )
        uow.commit()
    console.print(table)


@points_app.command("adjust")
def points_adjust(
    member_id: int,
    points: int,
    reason: Annotated[str, typer.Option(help="why (required, kept on the ledger line)")],
    kind: Annotated[str, typer.Option(help="adjust or compensate")] = "adjust",
) -> None:
    """Add (or, with negative points, take away) points with a reason; audited."""
    with context.new_uow() as uow:
        try:
            line = loyalty_service.points_adjust(
                uow, member_id=member_id, points=points, kind=kind, reason=reason, actor="cli"
            )
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action=f"points_{kind}",
            member_id=member_id,
            page="cli",
            detail={"points": points, "reason": reason},
        )
        line_id = line.id
        uow.commit()
    console.print(say(_("recorded ledger line {id}"), id=line_id))


@points_app.command("grant")
def points_grant(
    file: Path,
    reason: Annotated[str, typer.Option(help="one reason for every line (e.g. opening balance)")],
    kind: Annotated[str, typer.Option(help="adjust or compensate")] = "adjust",
) -> None:
    """Grant points from a CSV (member_id or card_no, points); bad rows are listed."""
    with context.new_uow() as uow:
        grants, bad = parse_grants(uow, file.read_bytes())
        try:
            lines = loyalty_service.points_grant_many(
                uow, grants=grants, reason=reason, actor="cli", kind=kind
            )
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="points_grant_file",
            page="cli",
            detail={"granted": len(lines), "bad": len(bad), "reason": reason},
        )
        uow.commit()
    locale = get_settings().default_locale
    for line_no, message, params in bad:
        err.print(
            say(
                _("line {line}: {reason}"),
                line=line_no,
                reason=translate(message, locale, **params),
            )
        )
    console.print(
        say(
            _("{n} members received points; {bad} rows were not used."),
            n=len(lines),
            bad=len(bad),
        )
    )
    if bad:
        raise typer.Exit(1)


def _coupon_row(table: Table, coupon: MemberCoupon) -> None:
    """One coupon as a table row (terms in the operator's language)."""
    locale = get_settings().default_locale
    terms = loyalty_rules.coupon_terms(
        coupon.kind, coupon.value, coupon.max_discount, coupon.min_spend, coupon.title
    )
    table.add_row(
        loyalty_rules.coupon_code_display(coupon.code),
        str(coupon.member_id),
        translate(coupon.title, locale),
        ", ".join(translate(m, locale, **p) for m, p in terms),
        local_time(coupon.valid_to - timedelta(seconds=1), "%Y-%m-%d %H:%M"),
        say(label(loyalty_queries.coupon_state(coupon)))
        + (f" #{coupon.receipt_id}" if coupon.receipt_id else ""),
    )


def _coupon_table() -> Table:
    return Table(
        Column(say(_("Code")), no_wrap=True),
        say(_("Member")),
        Column(say(_("Title")), no_wrap=True),
        say(_("Terms")),
        Column(say(_("Until")), no_wrap=True),
        Column(say(_("State")), no_wrap=True),
    )


@coupons_app.command("list")
def coupons_list(
    member_id: Annotated[
        int | None, typer.Argument(help="a member's coupons; all by default")
    ] = None,
    code: Annotated[str | None, typer.Option(help="find one coupon by its code")] = None,
) -> None:
    """List a member's coupons (or the newest of everyone's, or one by its code)."""
    with context.new_uow() as uow:
        if code:
            one = loyalty_queries.coupon_by_code(uow.session, code=code)
            found = [one] if one is not None else []
        elif member_id is not None:
            found = loyalty_queries.coupons_of_member(uow.session, member_id=member_id)
        else:
            found = loyalty_queries.coupons_recent(uow.session)
        table = _coupon_table()
        for coupon in found:
            _coupon_row(table, coupon)
    console.print(table)


@coupons_app.command("issue")
def coupons_issue(
    member_id: int,
    reason: Annotated[str, typer.Option(help="why (required, kept on the coupon; audited)")],
    kind: Annotated[str, typer.Option(help="amount, percent or gift")] = "amount",
    value: Annotated[str, typer.Option(help="¥ off, or % off for percent")] = "0",
    min_spend: Annotated[str, typer.Option(help="minimum spend in ¥")] = "0",
    max_discount: Annotated[str | None, typer.Option(help="largest ¥ off (percent)")] = None,
    days: Annotated[int, typer.Option(help="valid for this many days")] = 30,
    title: Annotated[str | None, typer.Option(help="title (a gift's name)")] = None,
) -> None:
    """Issue a coupon to a member as compensation."""
    with context.new_uow() as uow:
        try:
            data = CouponIssueIn.model_validate(
                {
                    "kind": kind,
                    "value": value,
                    "min_spend": min_spend,
                    "max_discount": max_discount,
                    "valid_days": days,
                    "title": title,
                    "reason": reason,
                }
            )
            member_get(uow.session, member_id=member_id)
            coupon = loyalty_coupons.coupon_compensate(
                uow, member_id=member_id, data=data, actor="cli"
            )
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="coupon_compensate",
            member_id=member_id,
            page="cli",
            detail={"coupon_id": coupon.id, **data.model_dump(mode="json")},
        )
        shown = loyalty_rules.coupon_code_display(coupon.code)
        uow.commit()
    console.print(say(_("issued coupon {code}"), code=shown))


@coupons_app.command("exchange")
def coupons_exchange(member_id: int, reward: str) -> None:
    """Exchange a member's points for a reward of the catalogue (by its code)."""
    with context.new_uow() as uow:
        try:
            coupon = loyalty_coupons.coupon_exchange(
                uow, member_id=member_id, reward_code=reward, actor="cli"
            )
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="coupon_exchange",
            member_id=member_id,
            page="cli",
            detail={"coupon_id": coupon.id, "reward": reward},
        )
        shown = loyalty_rules.coupon_code_display(coupon.code)
        uow.commit()
    console.print(say(_("issued coupon {code}"), code=shown))


@coupons_app.command("void")
def coupons_void(
    code: str, reason: Annotated[str, typer.Option(help="why (required; audited)")]
) -> None:
    """Void an unused coupon by its code; points paid for it come back."""
    with context.new_uow() as uow:
        try:
            found = loyalty_queries.coupon_by_code(uow.session, code=code)
            if found is None:
                raise NotFound(_("coupon {id} not found"), field="code", id=code)
            coupon = loyalty_coupons.coupon_void(
                uow, coupon_id=found.id, reason=reason, actor="cli"
            )
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="coupon_void",
            member_id=coupon.member_id,
            page="cli",
            detail={"coupon_id": coupon.id, "reason": reason},
        )
        uow.commit()
    console.print(say(_("coupon {code} voided"), code=code))


@coupons_app.command("rewards")
def coupons_rewards() -> None:
    """The rewards catalogue: what members can get for their points."""
    locale = get_settings().default_locale
    table = Table(
        "id",
        say(_("Code")),
        say(_("Name")),
        say(_("Terms")),
        say(_("Points")),
        say(_("Days valid")),
        say(_("Stock")),
        say(_("Active")),
    )
    with context.new_uow() as uow:
        for reward in loyalty_programme.rewards_list(uow):
            terms = loyalty_rules.coupon_terms(
                reward.kind, reward.value, reward.max_discount, reward.min_spend, reward.name
            )
            table.add_row(
                str(reward.id),
                reward.code,
                reward.name,
                ", ".join(translate(m, locale, **p) for m, p in terms),
                str(reward.points),
                str(reward.valid_days),
                "∞" if reward.stock is None else str(reward.stock),
                say(_("yes")) if reward.active else say(_("no")),
            )
        uow.commit()
    console.print(table)


attach_loyalty_commands(points_app, coupons_app)
