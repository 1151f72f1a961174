"""Commands for scheduled work and points: ``regulars jobs …`` and ``regulars points …``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import translate
from regulars.entrypoints import context
from regulars.jobs.registry import JOBS, job_run, scheduler_thread
from regulars.loyalty import queries as loyalty_queries
from regulars.loyalty import service as loyalty_service
from regulars.loyalty.grants import parse_grants
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
jobs_app = typer.Typer(
    help="Scheduled work: expiry, tier review, birthday offers, reminders.", no_args_is_help=True
)
points_app = typer.Typer(
    help="Members' points: show, adjust, grant from a file.", no_args_is_help=True
)


def _fail(exc: DomainError) -> None:
    where = f" [{exc.field}]" if exc.field else ""
    err.print(
        f"[red]{translate(exc.message, get_settings().default_locale, **exc.params)}{where}[/red]"
    )
    raise typer.Exit(1)


@jobs_app.command("list")
def jobs_list() -> None:
    """The jobs and the local hour each runs at."""
    table = Table("job", "hour", "what it does")
    locale = get_settings().default_locale
    for job in JOBS.values():
        table.add_row(job.name, f"{job.hour:02d}:00", translate(job.summary, locale))
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
            _fail(exc)
            return
    if run is None:
        console.print(f"{name}: not due on {when} or already run (use --force)")
    else:
        console.print(f"{name} {when}: {run.status} {run.result}")


@jobs_app.command("scheduler")
def jobs_scheduler(
    every: Annotated[float, typer.Option(help="seconds between checks")] = 60.0,
) -> None:
    """Run due jobs in the foreground until interrupted (for cron-less deployments)."""
    stop = scheduler_thread(context.session_factory(), every=every)
    console.print("scheduler running; Ctrl-C to stop")
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
            _fail(exc)
            return
        lines = loyalty_queries.points_history(uow.session, member_id=member_id, limit=20)
        console.print(summary.model_dump(mode="json"))
        table = Table("time", "kind", "points", "source", "reason")
        for line in lines:
            table.add_row(
                str(line.created_at),
                line.kind,
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
            _fail(exc)
            return
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
    console.print(f"recorded line {line_id}")


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
            _fail(exc)
            return
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
        err.print(f"line {line_no}: {translate(message, locale, **params)}")
    console.print(f"{len(lines)} members received points; {len(bad)} rows not used")
    if bad:
        raise typer.Exit(1)
