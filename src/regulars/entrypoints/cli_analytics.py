"""Commands for analytics: ``regulars analytics run|runs|member|rfm|pyramid|pareto|churn|…``.

``run`` scores every member and stores the snapshot the staff pages show; ``runs`` lists the
stored runs and ``member`` shows one member's scores from them (audited, as the API's read);
the per-analysis commands compute the same frames without storing them and write one as CSV
or Parquet.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from regulars.analytics.extract import extract_to_parquet
from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import _, translate
from regulars.core.labels import label
from regulars.core.schemas import MAX_ID
from regulars.core.templating import local_time
from regulars.core.timeutil import as_utc
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
from regulars.insights import service as insights_service
from regulars.insights.queries import (
    member_insights,
    members_scored,
    run_get,
    run_latest,
    runs_list,
)
from regulars.insights.schemas import InsightSettingsUpdate
from regulars.jobs.analytics import Computed, analytics_compute, analytics_run, data_end
from regulars.members.queries import member_get
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
analytics_app = typer.Typer(
    help="Score members (RFM, profit pyramid, churn, CLV, life stage) locally or on Spark.",
    no_args_is_help=True,
)


class EngineName(StrEnum):
    """The engines an analysis can run on."""

    local = "local"
    spark = "spark"


EngineOpt = Annotated[EngineName, typer.Option(help="local (Polars) or spark")]
MasterOpt = Annotated[
    str | None, typer.Option(help="Spark master URL (default local[2]); only with --engine spark")
]
AsOfOpt = Annotated[
    str | None, typer.Option(help="analyse the data before this time (ISO 8601); now by default")
]


def _as_of(text: str | None) -> datetime | None:
    if not text:
        return None  # now, or just past the newest receipt (see jobs.analytics.data_end)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        err.print(
            f"[red]--as-of: {escape(say(_('not an ISO 8601 time: {text}'), text=text))}[/red]"
        )
        raise typer.Exit(2) from exc
    if value.tzinfo is None:
        err.print(f"[red]--as-of: {escape(say(_('give a time zone (e.g. +08:00 or Z)')))}[/red]")
        raise typer.Exit(2)
    return as_utc(value)


def _write(frame: pl.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.write_parquet(out)
    else:
        frame.write_csv(out)
    console.print(say(_("{n} rows → {path}"), n=frame.height, path=out))


@analytics_app.command("run")
def run(
    engine: EngineOpt = EngineName.local,
    master: MasterOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Score every member and store the snapshot (what the Insights pages show)."""
    factory = context.session_factory()
    run_id = analytics_run(
        factory, engine=engine.value, master=master, as_of=_as_of(as_of), started_by="cli"
    )
    with context.new_uow() as uow:
        from_db = run_get(uow.session, run_id=run_id)
        summary = from_db.summary
        seconds = from_db.seconds or 0.0
    locale = get_settings().default_locale
    table = Table(say(_("Segment")), say(_("Members")))
    for code, n in sorted(summary.get("segments", {}).items(), key=lambda kv: -kv[1]):
        table.add_row(translate(label(code), locale), str(n))
    console.print(table)
    console.print(
        say(
            _(
                "run {run}: {members} members in {seconds} s ({engine});"
                " the top 20% bring {share}% of profit"
            ),
            run=run_id,
            members=summary.get("members", 0),
            seconds=f"{seconds:.1f}",
            engine=say(label(engine.value)),
            share=f"{summary.get('top20_share', 0) * 100:.1f}",
        )
    )


@analytics_app.command("members")
def members(
    segment: Annotated[str | None, typer.Option(help="RFM segment code, e.g. at_risk")] = None,
    tier: Annotated[str | None, typer.Option(help="platinum, gold, iron or lead")] = None,
    churn: Annotated[str | None, typer.Option(help="active, at_risk, churned or new")] = None,
    loss_making: Annotated[
        bool, typer.Option("--loss-making", help="only members whose gross margin is negative")
    ] = False,
    order: Annotated[str, typer.Option(help="clv, profit, monetary, overdue or loss")] = "clv",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    out: Annotated[Path | None, typer.Option(help="write all matches as CSV/Parquet")] = None,
) -> None:
    """Members of the latest stored run by segment, tier, churn status or loss-making."""
    filters = {"rfm_segment": segment, "tier": tier, "churn_status": churn}
    with context.new_uow() as uow:
        latest = run_latest(uow.session)
        if latest is None:
            missing = say(_("no analytics run stored yet: regulars analytics run"))
            err.print(f"[red]{escape(missing)}[/red]")
            raise typer.Exit(1)
        run_id = latest.id
        total, rows = members_scored(
            uow.session,
            run_id=run_id,
            filters=filters,
            loss_making=loss_making,
            order=order,
            limit=100_000 if out else limit,
        )
        records: list[dict[str, Any]] = [
            {
                "member_id": r.member_id,
                "rfm_segment": r.rfm_segment,
                "tier": r.tier,
                "profit": float(r.profit) if r.profit is not None else None,
                "loss_making": r.loss_making,
                "churn_status": r.churn_status,
                "clv": float(r.clv) if r.clv is not None else None,
            }
            for r in rows
        ]
    if out is not None:
        _write(pl.DataFrame(records), out)
        return
    locale = get_settings().default_locale
    table = Table(
        say(_("Member")),
        say(_("Segment")),
        say(_("Tier")),
        say(_("Profit")),
        say(_("Churn")),
        "CLV",
    )
    for r in records:
        table.add_row(
            str(r["member_id"]),
            translate(label(r["rfm_segment"]), locale) if r["rfm_segment"] else "",
            translate(label(r["tier"]), locale) if r["tier"] else "",
            "" if r["profit"] is None else f"{r['profit']:.2f}",
            translate(label(r["churn_status"]), locale) if r["churn_status"] else "",
            "" if r["clv"] is None else f"{r['clv']:.2f}",
        )
    console.print(table)
    console.print(
        say(
            _("{total} members in run {run}; {shown} shown"),
            total=total,
            run=run_id,
            shown=len(records),
        )
    )


@analytics_app.command("runs")
def runs(
    limit: Annotated[int, typer.Option(min=1, max=200, help="runs shown")] = 20,
) -> None:
    """The stored runs, newest first, as the Insights page lists them (failed ones too)."""
    # The id is what ``--run``-style options and the pages take next: never folded.
    table = Table(
        "#",
        say(_("Data before")),
        say(_("Engine")),
        say(_("Status")),
        say(_("Members")),
        say(_("Seconds")),
        say(_("Finished")),
        fold(say(_("Started by"))),
    )
    with context.new_uow() as uow:
        found = runs_list(uow.session, limit=limit)
        for r in found:
            table.add_row(
                str(r.id),
                local_time(r.as_of),
                say(label(r.engine)),
                say(label(r.status)),
                str(r.summary.get("members", "")),
                "" if r.seconds is None else f"{r.seconds:.1f}",
                local_time(r.finished_at),
                r.started_by or "",
            )
    console.print(table)
    if not found:
        console.print(say(_("No analytics run yet. Start one with: regulars analytics run")))


def _amount(value: object) -> str:
    return "" if value is None else str(value)


def _named(code: str | None) -> str:
    """A code word's name; nothing for no code (an empty message id would look up the
    catalogue's header)."""
    return say(label(code)) if code else ""


@analytics_app.command("member")
def member(
    member_id: Annotated[int, typer.Argument(help="member id", min=1, max=MAX_ID)],
) -> None:
    """One member's scores and household signals in the latest run that scored them, as
    ``GET /api/v1/members/{id}/insights`` gives them; the read is audited as that one is
    (``member_insights_view``): scores and signals are drawn from the member's baskets."""
    with context.new_uow() as uow:
        try:
            member_get(uow.session, member_id=member_id)
        except DomainError as exc:
            fail(exc)
        found = member_insights(uow.session, member_id=member_id)
        audit_record(
            uow, actor="cli", action="member_insights_view", member_id=member_id, page="cli"
        )
        score, run = found.score, found.run
        table = Table(show_header=False, title=say(_("Member {id}"), id=member_id))
        if score is not None and run is not None:
            table.add_row(
                say(_("RFM segment")),
                f"{_named(score.rfm_segment)} ({score.r_score}-{score.f_score}-{score.m_score})",
            )
            table.add_row(
                say(_("Recency, frequency, spend")),
                say(
                    _("{days} days since the last visit, {visits} visits, {spend} spent"),
                    days=_amount(score.recency_days),
                    visits=_amount(score.frequency),
                    spend=_amount(score.monetary),
                ),
            )
            tier = _named(score.tier)
            if score.loss_making:
                tier += " · " + say(_("loss-making"))
            table.add_row(say(_("Profit tier")), tier)
            table.add_row(say(_("Profit, last 12 months")), _amount(score.profit))
            churn = _named(score.churn_status)
            if score.rhythm_days:
                churn += " · " + say(
                    _("visits about every {d} days; last {l} days ago"),
                    d=f"{score.rhythm_days:.0f}",
                    l=f"{score.days_since_last or 0:.0f}",
                )
            table.add_row(say(_("Churn")), churn)
            table.add_row(
                say(_("P(alive)")), "" if score.p_alive is None else f"{score.p_alive:.2f}"
            )
            table.add_row(say(_("Lifetime value, 12 months")), _amount(score.clv))
            table.add_row(
                say(_("Household signals")),
                ", ".join(f"{_named(g.signal)} ({g.score:.2f})" for g in found.signals) or "—",
            )
            table.caption = say(
                _("Run {id}, data before {as_of}."), id=run.id, as_of=local_time(run.as_of)
            )
        uow.commit()
    if score is None:
        console.print(
            say(_("Not scored yet: analytics have not run since this member's first purchase."))
        )
        return
    console.print(table)


def _computed(engine: EngineName, master: str | None, as_of: str | None) -> Computed:
    """Extract and compute without storing."""
    work = Path(tempfile.mkdtemp(prefix="regulars-analytics-"))
    try:
        with context.new_uow() as uow:
            when = _as_of(as_of) or data_end(uow)
            snapshot = extract_to_parquet(uow.session.connection(), work, as_of=when)
            settings = insights_service.settings_get(uow)
            uow.session.expunge(settings)
        return analytics_compute(
            snapshot, engine=engine.value, master=master, parquet_dir=work, settings=settings
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _frame_command(name: str, doc: str) -> None:
    """Register ``regulars analytics <name> --out FILE`` writing one frame."""

    def command(
        out: Annotated[Path, typer.Option(help="CSV or .parquet file to write")],
        engine: EngineOpt = EngineName.local,
        master: MasterOpt = None,
        as_of: AsOfOpt = None,
    ) -> None:
        _write(_computed(engine, master, as_of).frames[name], out)

    command.__doc__ = doc
    analytics_app.command(name.replace("_", "-"))(command)


for _name, _doc in (
    ("rfm", "RFM scores and named segments per member."),
    ("pyramid", "Profit per member and the tier of the value pyramid."),
    ("pareto", "The Pareto curve: share of members against share of profit."),
    ("churn", "Each member's visit rhythm and churn status."),
    ("churn_trend", "Monthly churn trend."),
    ("win_back", "Members worth winning back, most valuable first."),
    ("clv", "P(alive), expected purchases and lifetime value per member."),
    ("life_stage", "Household signals (baby, pet …) for members who consented to analytics."),
):
    _frame_command(_name, _doc)


def _cut_option(text: str | None) -> list[str] | None:
    """``7,30,90,180`` as four values; ``quintiles`` (or empty) as None."""
    if text is None or text.strip().lower() in ("", "quintiles"):
        return None
    return [part.strip() for part in text.split(",")]


@analytics_app.command("settings")
def settings(
    recency: Annotated[
        str | None, typer.Option(help="days since the last visit, e.g. 7,30,90,180; or quintiles")
    ] = None,
    frequency: Annotated[
        str | None, typer.Option(help="receipts, e.g. 2,4,8,16; or quintiles")
    ] = None,
    monetary: Annotated[
        str | None, typer.Option(help="spend in yuan, e.g. 200,500,1000,3000; or quintiles")
    ] = None,
    platinum: Annotated[float | None, typer.Option(help="share of members, %")] = None,
    gold: Annotated[float | None, typer.Option(help="share of members, %")] = None,
    iron: Annotated[float | None, typer.Option(help="share of members, %")] = None,
) -> None:
    """Show, or change, how runs score members: RFM by quintiles or by four fixed cut
    points per dimension, and the share of members in each pyramid tier (audited)."""
    values: dict[str, Any] = {}
    for name, text in (
        ("rfm_recency", recency),
        ("rfm_frequency", frequency),
        ("rfm_monetary", monetary),
    ):
        if text is not None:
            values[name] = _cut_option(text)
    for name, share in (
        ("pyramid_platinum", platinum),
        ("pyramid_gold", gold),
        ("pyramid_iron", iron),
    ):
        if share is not None:
            values[name] = share / 100
    with context.new_uow() as uow:
        if values:
            try:
                data = InsightSettingsUpdate.model_validate(values)
                found, changed = insights_service.settings_update(uow, data=data, actor="cli")
            except (DomainError, ValidationError) as exc:
                fail(exc, code=2)
            if changed:
                audit_record(
                    uow, actor="cli", action="insight_settings", page="cli", detail=changed
                )
        else:
            found = insights_service.settings_get(uow)
        table = Table(say(_("Setting")), say(_("Value")))
        quintiles = say(_("quintiles"))
        for name, cuts in (
            (_("Recency cut points (days)"), found.rfm_recency),
            (_("Frequency cut points (receipts)"), found.rfm_frequency),
            (_("Monetary cut points (yuan)"), found.rfm_monetary),
        ):
            table.add_row(say(name), ", ".join(f"{c:g}" for c in cuts) if cuts else quintiles)
        for name, share in (
            (_("Platinum: share of members (%)"), found.pyramid_platinum),
            (_("Gold: share of members (%)"), found.pyramid_gold),
            (_("Iron: share of members (%)"), found.pyramid_iron),
        ):
            table.add_row(say(name), f"{share * 100:g}")
        uow.commit()
    console.print(table)
