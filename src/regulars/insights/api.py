"""Staff API of insights: runs, scored members and one member's scores."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from regulars.core.errors import NotFound
from regulars.core.i18n import _
from regulars.core.web import IdPath, UowDep
from regulars.insights import queries, service
from regulars.insights.runner import runner_get
from regulars.insights.schemas import (
    InsightSettingsRead,
    InsightSettingsUpdate,
    MemberInsightsRead,
    RunIn,
    RunRead,
    ScoredPage,
    ScoreRead,
    SignalRead,
)
from regulars.members.queries import member_get
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["insights"])
Reader = Annotated[StaffAccount, Depends(require("analytics.read"))]
Runner = Annotated[StaffAccount, Depends(require("analytics.run"))]
Segment = Literal[
    "champions",
    "loyal",
    "potential_loyalist",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
]


@router.get("/insights/runs", response_model=list[RunRead])
def list_runs(
    uow: UowDep, _who: Reader, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[RunRead]:
    """Analytics runs, newest first."""
    return [RunRead.model_validate(r) for r in queries.runs_list(uow.session, limit=limit)]


@router.get("/insights/runs/latest", response_model=RunRead)
def latest_run(uow: UowDep, _who: Reader) -> RunRead:
    """The newest finished run with its totals (segments, pyramid, Pareto, churn, CLV)."""
    run = queries.run_latest(uow.session)
    if run is None:
        raise NotFound(_("no analytics run yet"), field="run_id")
    return RunRead.model_validate(run)


@router.get("/insights/runs/{run_id}", response_model=RunRead)
def get_run(uow: UowDep, run_id: IdPath, _who: Reader) -> RunRead:
    """One run."""
    return RunRead.model_validate(queries.run_get(uow.session, run_id=run_id))


@router.post("/insights/runs", response_model=RunRead, status_code=201)
def start_run(request: Request, uow: UowDep, data: RunIn, who: Runner) -> RunRead:
    """Run the analytics now on the local engine and wait for the result.

    The request's own transaction ends first: on SQLite it holds the write lock since the
    token check, and the run's transaction would wait for it until it timed out.
    """
    uow.commit()
    run_id = runner_get()(
        request.app.state.session_factory, engine=data.engine, started_by=who.username
    )
    return RunRead.model_validate(queries.run_get(uow.session, run_id=run_id))


@router.get("/insights/settings", response_model=InsightSettingsRead)
def scoring_settings(uow: UowDep, _who: Reader) -> InsightSettingsRead:
    """How runs score members: RFM cut points (null: quintiles) and the pyramid's shares."""
    read = InsightSettingsRead.model_validate(service.settings_get(uow))
    uow.commit()
    return read


@router.put("/insights/settings", response_model=InsightSettingsRead)
def scoring_settings_change(
    request: Request, uow: UowDep, data: InsightSettingsUpdate, who: Runner
) -> InsightSettingsRead:
    """Change the fields sent (a cut list sent as null goes back to quintiles); the next
    run uses them (audited, with the old and new values)."""
    found, changed = service.settings_update(uow, data=data, actor=who.username)
    if changed:
        audit_record(
            uow,
            actor=who,
            action="insight_settings",
            page=str(request.url.path),
            detail=changed,
        )
    read = InsightSettingsRead.model_validate(found)
    uow.commit()
    return read


@router.get("/insights/members", response_model=ScoredPage)
def scored_members(
    uow: UowDep,
    _who: Reader,
    rfm_segment: Segment | None = None,
    tier: Literal["platinum", "gold", "iron", "lead"] | None = None,
    churn_status: Literal["active", "at_risk", "churned", "new"] | None = None,
    loss_making: bool = False,
    order: Literal["clv", "profit", "monetary", "overdue", "loss"] = "clv",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ScoredPage:
    """Members of the latest run by segment, tier or churn status (win-back lists);
    ``loss_making=true`` names the members who cost more than they brought (order ``loss``:
    largest loss first)."""
    run = queries.run_latest(uow.session)
    if run is None:
        return ScoredPage(total=0, items=[])
    total, rows = queries.members_scored(
        uow.session,
        run_id=run.id,
        filters={"rfm_segment": rfm_segment, "tier": tier, "churn_status": churn_status},
        loss_making=loss_making,
        order=order,
        limit=limit,
        offset=offset,
    )
    return ScoredPage(total=total, items=[ScoreRead.model_validate(r) for r in rows])


@router.get("/members/{member_id}/insights", response_model=MemberInsightsRead)
def member_scores(uow: UowDep, member_id: IdPath, who: Reader) -> MemberInsightsRead:
    """A member's latest scores and household signals (the read is audited)."""
    member_get(uow.session, member_id=member_id)
    found = queries.member_insights(uow.session, member_id=member_id)
    audit_record(uow, actor=who, action="member_insights_view", member_id=member_id)
    uow.commit()
    return MemberInsightsRead(
        member_id=member_id,
        score=ScoreRead.model_validate(found.score) if found.score else None,
        signals=[SignalRead.model_validate(s) for s in found.signals],
    )
