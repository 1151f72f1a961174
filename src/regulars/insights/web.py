"""Staff pages of insights: segments, the profit pyramid, Pareto, churn, CLV, life stage."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from regulars.core.charts import bar_chart, line_chart
from regulars.core.errors import DomainError, Forbidden
from regulars.core.i18n import _, translate
from regulars.core.labels import label
from regulars.core.reasons import invalid_input
from regulars.core.uow import UnitOfWork
from regulars.core.web import UowDep
from regulars.insights import queries, service
from regulars.insights.models import MemberScore, MemberSignal
from regulars.insights.runner import runner_get
from regulars.insights.schemas import InsightSettingsUpdate
from regulars.members.extensions import Panel
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("analytics.read"))]
PAGE = 50


class InsightsExtension:
    """A member's scores on the profile page and in a PIPL export."""

    key = "insights"

    def panel(
        self, uow: UnitOfWork, *, member_id: int, store_ids: Collection[int] | None = None
    ) -> Panel:
        """RFM segment, pyramid tier, churn status, CLV and household signals."""
        found = queries.member_insights(uow.session, member_id=member_id)
        return Panel(
            key=self.key,
            title=_("Scores"),
            template="insights/member_panel.html",
            data={"found": found},
        )

    def export(self, uow: UnitOfWork, *, member_id: int) -> list[dict[str, Any]]:
        """Every stored score and signal of the member, run by run."""
        found = queries.member_insights(uow.session, member_id=member_id, history=1000)
        out: list[dict[str, Any]] = []
        for run, score in found.history:
            out.append({"run_id": run.id, "as_of": run.as_of.isoformat(), **_score_json(score)})
        out.extend(
            {"signal": s.signal, "run_id": s.run_id, "score": s.score} for s in found.signals
        )
        return out


def _score_json(score: MemberScore) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in MemberScore.__table__.columns:
        if column.name in ("id", "run_id", "member_id"):
            continue
        value = getattr(score, column.name)
        values[column.name] = (
            str(value)
            if value is not None
            and column.name
            in (
                "monetary",
                "revenue",
                "profit",
                "clv",
            )
            else value
        )
    return values


def signal_json(signal: MemberSignal) -> dict[str, Any]:
    """A household signal as JSON."""
    return {"signal": signal.signal, "score": signal.score, "evidence": signal.evidence}


def _num(value: Any) -> float:
    """A summary number, 0 when the analysis left it undefined (a month with no members)."""
    return float(value) if value is not None else 0.0


def charts(summary: dict[str, Any], locale: str) -> dict[str, Any]:
    """The overview's charts, drawn from a run's summary in the reader's language."""

    def t(message: str, **params: Any) -> str:
        return translate(message, locale, **params)

    def name(code: str) -> str:
        return translate(label(code), locale)

    segments = sorted(summary.get("segments", {}).items(), key=lambda kv: -kv[1])
    tiers = summary.get("tiers", [])
    pareto = summary.get("pareto", [])
    trend = summary.get("churn_trend", [])
    histogram = summary.get("clv", {}).get("histogram", [])
    signals = sorted(summary.get("signals", {}).items(), key=lambda kv: -kv[1])
    out: dict[str, Any] = {
        "segments": bar_chart(
            [(name(code), float(n)) for code, n in segments], title=t(_("Members per RFM segment"))
        ),
        "pyramid": bar_chart(
            [(name(row["tier"]), float(row["profit_share"])) for row in tiers],
            title=t(_("Share of profit per tier")),
            percent=True,
        ),
        "signals": bar_chart(
            [(name(code), float(n)) for code, n in signals], title=t(_("Households per signal"))
        ),
        "clv": bar_chart(
            [(str(bucket), float(n)) for bucket, n in histogram],
            title=t(_("Members per lifetime value band")),
        ),
    }
    if pareto:
        out["pareto"] = line_chart(
            [(t(_("share of profit")), [float(p[1]) for p in pareto])],
            title=t(_("Pareto curve: members by profit, best first")),
            x_labels=[f"{float(p[0]) * 100:.0f}%" for p in pareto],
            percent=True,
            y_max=max(1.0, max(float(p[1]) for p in pareto)),
            diagonal=True,
        )
    if trend:
        out["trend"] = line_chart(
            [
                (t(_("churn rate")), [_num(r["churn_rate"]) for r in trend]),
                (
                    t(_("at risk")),
                    [
                        (_num(r["at_risk"]) / int(r["members"]) if r["members"] else 0.0)
                        for r in trend
                    ],
                ),
            ],
            title=t(_("Monthly churn")),
            x_labels=[str(r["month"])[:7] for r in trend],
            percent=True,
            y_max=max(
                [0.05]
                + [_num(r["churn_rate"]) for r in trend]
                + [(_num(r["at_risk"]) / int(r["members"]) if r["members"] else 0.0) for r in trend]
            ),
        )
    return out


@router.get("/insights", response_class=HTMLResponse)
def overview(
    request: Request, uow: UowDep, ctx: Reader, run_id: int | None = Query(None, ge=1, le=2**31 - 1)
) -> HTMLResponse:
    """The latest (or a chosen) run: segments and movement, pyramid, Pareto, churn, CLV."""
    run = queries.run_get(uow.session, run_id=run_id) if run_id else queries.run_latest(uow.session)
    data: dict[str, Any] = {"run": run, "runs": queries.runs_list(uow.session), "charts": {}}
    if run is not None and run.status == "done":
        data["charts"] = charts(run.summary, ctx.locale)
        previous = queries.run_previous(uow.session, run)
        data["previous"] = previous
        data["movement"] = (
            [
                move
                for move in queries.segment_movement(
                    uow.session, run_id=run.id, previous_id=previous.id
                )
                if move[0] != move[1]  # members who stayed put are not movement
            ][:15]
            if previous
            else []
        )
    return page(request, ctx, "insights/overview.html", data)


SCORING_CUTS = ("rfm_recency", "rfm_frequency", "rfm_monetary")
SCORING_SHARES = ("pyramid_platinum", "pyramid_gold", "pyramid_iron")


def _settings_page(
    request: Request,
    uow: UnitOfWork,
    ctx: PageContext,
    *,
    values: dict[str, str] | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = service.settings_get(uow)
    shown = values or {
        **{f: ", ".join(f"{c:g}" for c in getattr(found, f) or []) for f in SCORING_CUTS},
        **{f: f"{getattr(found, f) * 100:g}" for f in SCORING_SHARES},
    }
    data = {"s": found, "v": shown, "error": error}
    return page(request, ctx, "insights/settings.html", data, status_code=status)


@router.get("/insights/settings", response_class=HTMLResponse)
def settings_page(request: Request, uow: UowDep, ctx: Reader) -> HTMLResponse:
    """How runs score members: RFM by quintiles or by fixed cut points, and the share of
    members in each pyramid tier; admins and analysts change them."""
    response = _settings_page(request, uow, ctx)
    uow.commit()  # keeps the defaults made on first use
    return response


def _scoring_form(form: dict[str, str]) -> InsightSettingsUpdate:
    """The form as an update: an empty cut field goes back to quintiles, shares are in %."""
    values: dict[str, Any] = {}
    for name in SCORING_CUTS:
        text = form.get(name, "").replace("，", ",").strip()
        values[name] = [part.strip() for part in text.split(",")] if text else None
    for name in SCORING_SHARES:
        text = form.get(name, "").strip()
        if text:
            try:
                values[name] = float(text) / 100
            except ValueError:
                values[name] = text  # let the schema name the field
    return InsightSettingsUpdate.model_validate(values)


@router.post("/insights/settings", response_class=HTMLResponse, response_model=None)
async def settings_submit(request: Request, uow: UowDep, ctx: Csrf) -> Response:
    """Save the scoring settings; the next run uses them (audited)."""
    if not ctx.can("analytics.run"):
        raise Forbidden(_("your role may not do this"))
    form = {k: str(v)[:200] for k, v in (await request.form()).items()}
    try:
        _found, changed = service.settings_update(
            uow, data=_scoring_form(form), actor=ctx.account.username
        )
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        problem = exc if isinstance(exc, DomainError) else invalid_input(exc)
        return _settings_page(request, uow, ctx, values=form, error=problem, status=422)
    if changed:
        audit_record(
            uow,
            actor=ctx.account,
            action="insight_settings",
            page=str(request.url.path),
            detail=changed,
        )
    uow.commit()
    return RedirectResponse("/insights/settings?saved=1", status_code=303)


@router.get("/insights/members", response_class=HTMLResponse)
def members(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    rfm_segment: str | None = Query(None, max_length=30),
    tier: str | None = Query(None, max_length=10),
    churn_status: str | None = Query(None, max_length=10),
    loss_making: bool = Query(False),
    order: str = Query("clv", max_length=10),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> HTMLResponse:
    """Members of a segment, tier or churn status, most valuable first (win-back lists), or
    the loss-making members, largest loss first."""
    run = queries.run_latest(uow.session)
    filters = {"rfm_segment": rfm_segment, "tier": tier, "churn_status": churn_status}
    total, rows = (
        queries.members_scored(
            uow.session,
            run_id=run.id,
            filters=filters,
            loss_making=loss_making,
            order=order,
            limit=PAGE,
            offset=offset,
        )
        if run
        else (0, [])
    )
    data = {
        "run": run,
        "rows": rows,
        "total": total,
        "filters": filters,
        "loss_making": loss_making,
        "order": order,
        "offset": offset,
        "page": PAGE,
    }
    return page(request, ctx, "insights/members.html", data)


@router.post("/insights/runs")
def run_now(request: Request, ctx: Csrf, tasks: BackgroundTasks) -> RedirectResponse:
    """Start a run on the local engine in the background; the overview shows its progress."""
    if not ctx.can("analytics.run"):
        raise Forbidden(_("your role may not do this"))
    runner = runner_get()
    tasks.add_task(
        runner,
        request.app.state.session_factory,
        engine="local",
        started_by=ctx.account.username,
    )
    return RedirectResponse("/insights?started=1", status_code=303)
