"""The nightly analytics run: extract, analyse on an engine, store the snapshot.

One function does it for the scheduler, the CLI, the staff page and the API. The analyses are
pure (``regulars.analytics``); the snapshot belongs to ``regulars.insights``.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from regulars.analytics.extract import Snapshot, extract_to_parquet
from regulars.analytics.nightly import NightlyOptions, NightlyResult, engine_named, nightly
from regulars.analytics.pyramid import PyramidCuts
from regulars.analytics.rfm import RfmCuts
from regulars.core.config import get_settings
from regulars.core.timeutil import as_utc, utcnow
from regulars.core.uow import UnitOfWork
from regulars.insights import service as insights
from regulars.insights.models import InsightSettings, ScoreRun
from regulars.sales.models import Receipt

__all__ = [
    "Computed",
    "analytics_compute",
    "analytics_run",
    "analytics_run_in",
    "nightly_job",
    "scoring_options",
]

CLV_HORIZON_DAYS = 90
CLV_BANDS = (0, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass
class Computed:
    """What a run produces: member scores, household signals and the totals for the pages."""

    scores: pl.DataFrame
    signals: pl.DataFrame
    summary: dict[str, Any]
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)


def _bands(values: list[float]) -> list[tuple[str, int]]:
    """Members per CLV band (the chart's histogram)."""
    out: list[tuple[str, int]] = []
    for low, high in zip(CLV_BANDS, (*CLV_BANDS[1:], math.inf), strict=True):
        label = f"{low}+" if math.isinf(high) else f"{low}–{high}"
        out.append((label, sum(1 for v in values if low <= v < high)))
    return out


def _summary(result: NightlyResult) -> dict[str, Any]:
    """The run's totals, as JSON for the overview page and the API."""
    pyramid = result.pyramid
    total_profit = float(pyramid["profit"].sum() or 0.0) if not pyramid.is_empty() else 0.0
    tiers = []
    for tier in ("platinum", "gold", "iron", "lead"):
        part = pyramid.filter(pl.col("tier") == tier)
        profit = float(part["profit"].sum() or 0.0)
        tiers.append(
            {
                "tier": tier,
                "members": part.height,
                "revenue": float(part["revenue"].sum() or 0.0),
                "profit": profit,
                "profit_share": profit / total_profit if total_profit else 0.0,
            }
        )
    clv = result.clv.scores if result.clv is not None else pl.DataFrame()
    params = result.clv.fit.as_dict() if result.clv is not None else {}
    fallbacks = list(result.clv.fit.fallbacks) if result.clv is not None else []
    clv_values = [
        float(v) for v in (clv["clv"].to_list() if "clv" in clv.columns else []) if v is not None
    ]
    return {
        "members": int(result.rfm.height),
        "segments": {
            str(k): int(v)
            for k, v in result.rfm.group_by("rfm_segment").len().iter_rows()
            if k is not None
        },
        "tiers": tiers,
        # With no positive total profit the curve is undefined: the page then shows no curve.
        "pareto": [[float(a), float(b)] for a, b in result.pareto.iter_rows() if b is not None],
        "top20_share": float(result.top_share) if math.isfinite(result.top_share) else 0.0,
        "loss_makers": int(pyramid.filter(pl.col("loss_making")).height),
        "churn": {str(k): int(v) for k, v in result.churn.group_by("status").len().iter_rows()},
        "churn_trend": [
            {**row, "month": str(row["month"])} for row in result.churn_trend.iter_rows(named=True)
        ],
        "clv": {
            "params": params,
            "fallbacks": fallbacks,
            "histogram": _bands(clv_values),
            "total": float(sum(clv_values)),
            "mean": float(sum(clv_values) / len(clv_values)) if clv_values else 0.0,
            "horizon_days": CLV_HORIZON_DAYS,
        },
        "signals": {
            str(k): int(v) for k, v in result.life_stage.group_by("signal").len().iter_rows()
        },
        "timings": dict(result.seconds),
    }


def _scores(result: NightlyResult) -> pl.DataFrame:
    """One row per member from the RFM, pyramid, churn and CLV frames."""
    frames = [
        result.rfm.select(
            "member_id",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "rfm_segment",
        ),
        result.pyramid.select("member_id", "revenue", "profit", "tier", "loss_making"),
        result.churn.select(
            "member_id",
            pl.col("status").alias("churn_status"),
            "rhythm_days",
            "days_since_last",
        ),
    ]
    if result.clv is not None and not result.clv.scores.is_empty():
        frames.append(result.clv.scores.select("member_id", "p_alive", "expected_purchases", "clv"))
    scores = frames[0]
    for frame in frames[1:]:
        scores = scores.join(frame, on="member_id", how="full", coalesce=True)
    return scores.sort("member_id")


def analytics_compute(
    snapshot: Snapshot,
    *,
    engine: str = "local",
    master: str | None = None,
    parquet_dir: Path | None = None,
    settings: InsightSettings | None = None,
) -> Computed:
    """Run every analysis on ``snapshot`` with the chosen engine and scoring ``settings``
    (RFM cut points, pyramid shares; the defaults when ``None``).

    Spark reads the snapshot's Parquet files itself (``parquet_dir``) so the history never
    passes through the driver; the local engine takes the frames already in memory.
    """
    runner = engine_named(engine, master=master or "local[2]")
    tables: dict[str, Any] = dict(snapshot.tables)
    if engine == "spark" and parquet_dir is not None:
        tables = {name: parquet_dir / f"{name}.parquet" for name in snapshot.tables}
    options = scoring_options(settings)
    result = nightly(runner, tables, as_of=snapshot.as_of, options=options)
    return Computed(
        scores=_scores(result),
        signals=result.life_stage,
        summary=_summary(result),
        frames=result.frames(),
    )


def scoring_options(settings: InsightSettings | None) -> NightlyOptions:
    """The nightly run's options for the stored scoring settings (``insights.settings_get``)."""
    if settings is None:
        return NightlyOptions(clv_horizon_days=float(CLV_HORIZON_DAYS))
    return NightlyOptions(
        clv_horizon_days=float(CLV_HORIZON_DAYS),
        rfm_cuts=RfmCuts(
            recency=settings.rfm_recency,
            frequency=settings.rfm_frequency,
            monetary=settings.rfm_monetary,
        ),
        pyramid_cuts=PyramidCuts(
            platinum=settings.pyramid_platinum,
            gold=settings.pyramid_gold,
            iron=settings.pyramid_iron,
        ),
    )


def scoring_params(settings: InsightSettings) -> dict[str, Any]:
    """The settings a run used, kept in its ``params`` (a later change does not rewrite
    what an old run meant)."""
    return {
        "rfm_cuts": {
            "recency": settings.rfm_recency,
            "frequency": settings.rfm_frequency,
            "monetary": settings.rfm_monetary,
        },
        "pyramid_shares": {
            "platinum": settings.pyramid_platinum,
            "gold": settings.pyramid_gold,
            "iron": settings.pyramid_iron,
        },
    }


def analytics_run_in(
    uow: UnitOfWork,
    *,
    as_of: datetime | None = None,
    engine: str = "local",
    master: str | None = None,
    started_by: str | None = None,
    keep: Callable[[Computed], None] | None = None,
) -> ScoreRun:
    """Extract, analyse and store one run inside ``uow`` (the caller commits)."""
    when = as_utc(as_of) if as_of is not None else data_end(uow)
    settings = insights.settings_get(uow)
    run = insights.run_start(
        uow,
        as_of=when,
        engine=engine,
        params={"master": master, **scoring_params(settings)},
        started_by=started_by,
    )
    work = Path(tempfile.mkdtemp(prefix="regulars-analytics-", dir=_scratch()))
    try:
        snapshot = extract_to_parquet(uow.session.connection(), work, as_of=when)
        computed = analytics_compute(
            snapshot, engine=engine, master=master, parquet_dir=work, settings=settings
        )
        if keep is not None:
            keep(computed)
        return insights.run_store(
            uow, run, scores=computed.scores, signals=computed.signals, summary=computed.summary
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def data_end(uow: UnitOfWork, *, now: datetime | None = None) -> datetime:
    """Analyse up to now, or just past the newest receipt if the tills have gone quiet.

    A chain whose receipts stopped arriving (an outage, or the demo store's 2017 data) would
    otherwise see every member "churned" and an empty 12-month pyramid.
    """
    current = as_utc(now or utcnow())
    newest = uow.session.scalar(select(func.max(Receipt.occurred_at)))
    if newest is None:
        return current
    return min(current, as_utc(newest) + timedelta(seconds=1))


def _scratch() -> Path:
    path = Path(get_settings().var_dir) / "analytics"
    path.mkdir(parents=True, exist_ok=True)
    return path


def analytics_run(
    session_factory: sessionmaker[Session],
    *,
    engine: str = "local",
    started_by: str | None = None,
    master: str | None = None,
    as_of: datetime | None = None,
) -> int:
    """Run and commit; a failure is recorded as a failed run with its reason, then re-raised."""
    try:
        with UnitOfWork(session_factory) as uow:
            run = analytics_run_in(
                uow, as_of=as_of, engine=engine, master=master, started_by=started_by
            )
            uow.commit()
            return run.id
    except Exception as exc:
        with UnitOfWork(session_factory) as uow:
            failed = insights.run_start(
                uow, as_of=as_of or utcnow(), engine=engine, started_by=started_by
            )
            insights.run_fail(uow, failed, error=f"{type(exc).__name__}: {exc}")
            uow.commit()
        raise


def nightly_job(uow: UnitOfWork, day: date) -> dict[str, Any]:
    """The scheduled run: every analysis on the data up to the end of ``day``."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time())
    local_end = end.replace(tzinfo=ZoneInfo(get_settings().timezone))
    as_of = data_end(uow, now=min(as_utc(local_end), utcnow()))
    run = analytics_run_in(uow, as_of=as_of, engine="local", started_by="scheduler")
    return {"run_id": run.id, "members": run.summary.get("members", 0)}
