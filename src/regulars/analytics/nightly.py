"""The nightly segment run: RFM, value pyramid, churn, life stage and CLV on one engine.

:func:`nightly` takes an :class:`~regulars.analytics.engines.local.Engine` (choose one by
name with :func:`engine_named`) and the tables — Polars DataFrames or Parquet paths — and
returns every result frame in a :class:`NightlyResult`, with the seconds each step took.
The results are engine-independent Polars DataFrames; storing them is the caller's job.

The CLV step is a parameter, ``clv_step``: by default :func:`clv_default` builds the
per-member summary on the engine (``Engine.clv_summary``) and fits BG/NBD and Gamma-Gamma
with :func:`regulars.analytics.clv.clv_scores` on the driver; ``None`` skips it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from regulars.analytics.churn import DEFAULT_RULES as DEFAULT_CHURN
from regulars.analytics.churn import ChurnRules, win_back
from regulars.analytics.clv import ClvFit, clv_scores
from regulars.analytics.engines.local import Engine, LocalEngine, Source
from regulars.analytics.lifestage import DEFAULT_RULES as DEFAULT_SIGNALS
from regulars.analytics.lifestage import SignalRule
from regulars.analytics.pyramid import PyramidCuts, pareto_curve, top_share
from regulars.analytics.rfm import RfmCuts

__all__ = [
    "ENGINES",
    "ClvResult",
    "ClvStep",
    "NightlyOptions",
    "NightlyResult",
    "clv_default",
    "engine_named",
    "nightly",
]

#: The engines a caller may name.
ENGINES = ("local", "spark")


def engine_named(name: str, *, master: str = "local[2]") -> Engine:
    """The engine called ``name``: ``local`` (Polars) or ``spark`` (a session on ``master``)."""
    if name == "local":
        return LocalEngine()
    if name == "spark":
        # Imported here, not at the top: PySpark costs a noticeable part of a second to import,
        # and the server, the CLI and the tests load this module without ever choosing Spark.
        from regulars.analytics.engines.spark import spark_session
        from regulars.analytics.engines.spark_engine import SparkEngine

        return SparkEngine(spark_session(master))
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class NightlyOptions:
    """The settings of every step; the defaults are each analysis's own."""

    rfm_cuts: RfmCuts | None = None
    pyramid_window_days: int = 365
    pyramid_cuts: PyramidCuts | None = None
    pareto_points: int = 101
    top_share: float = 0.2
    churn_rules: ChurnRules = DEFAULT_CHURN
    trend_months: int = 12
    signal_rules: Sequence[SignalRule] = DEFAULT_SIGNALS
    life_stage_window_days: int = 365
    # Weeks: several shopping trips in one week are one purchase occasion for BG/NBD, which
    # keeps the model about regular shoppers' weeks rather than their days.
    clv_period_days: float = 7.0
    clv_horizon_days: float = 90.0


@dataclass(frozen=True)
class ClvResult:
    """CLV scores per member and what was fitted."""

    scores: pl.DataFrame
    fit: ClvFit


#: A CLV step: (engine, lines, as_of, options) → scores, or None to record no CLV.
ClvStep = Callable[[Engine, Source, datetime, NightlyOptions], ClvResult | None]


def clv_default(
    engine: Engine, lines: Source, as_of: datetime, options: NightlyOptions
) -> ClvResult:
    """The summary on the engine, BG/NBD and Gamma-Gamma fitted on the driver."""
    summary = engine.clv_summary(lines, as_of=as_of, period_days=options.clv_period_days)
    scores, fit = clv_scores(
        summary, horizon_days=options.clv_horizon_days, period_days=options.clv_period_days
    )
    return ClvResult(scores, fit)


@dataclass(frozen=True)
class NightlyResult:
    """Every frame of a nightly run, and the seconds each step took."""

    as_of: datetime
    engine: str
    rfm: pl.DataFrame
    pyramid: pl.DataFrame
    pareto: pl.DataFrame
    top_share: float
    churn: pl.DataFrame
    churn_trend: pl.DataFrame
    win_back: pl.DataFrame
    life_stage: pl.DataFrame
    clv: ClvResult | None
    seconds: dict[str, float] = field(default_factory=dict)

    def frames(self) -> dict[str, pl.DataFrame]:
        """The result tables by name (the ones the lead stores)."""
        out = {
            "rfm": self.rfm,
            "pyramid": self.pyramid,
            "pareto": self.pareto,
            "churn": self.churn,
            "churn_trend": self.churn_trend,
            "win_back": self.win_back,
            "life_stage": self.life_stage,
        }
        if self.clv is not None:
            out["clv"] = self.clv.scores
        return out


def nightly(
    engine: Engine,
    tables: Mapping[str, Source],
    *,
    as_of: datetime,
    options: NightlyOptions | None = None,
    clv_step: ClvStep | None = clv_default,
) -> NightlyResult:
    """Run every segment analysis on ``engine`` over ``tables`` (lines, products, members)."""
    options = options or NightlyOptions()
    lines = tables["lines"]
    seconds: dict[str, float] = {}

    def timed(step: str, started: float) -> None:
        seconds[step] = time.perf_counter() - started

    started = time.perf_counter()
    rfm = engine.rfm(lines, as_of=as_of, cuts=options.rfm_cuts)
    timed("rfm", started)
    started = time.perf_counter()
    pyramid = engine.pyramid(
        lines, as_of=as_of, window_days=options.pyramid_window_days, cuts=options.pyramid_cuts
    )
    pareto = pareto_curve(pyramid, options.pareto_points)
    share = top_share(pyramid, options.top_share)
    timed("pyramid", started)
    started = time.perf_counter()
    churn = engine.churn(lines, as_of=as_of, rules=options.churn_rules)
    trend = engine.churn_trend(
        lines, as_of=as_of, months=options.trend_months, rules=options.churn_rules
    )
    back = win_back(churn, pyramid)
    timed("churn", started)
    started = time.perf_counter()
    stage = engine.life_stage(
        lines,
        tables["products"],
        tables["members"],
        as_of=as_of,
        rules=options.signal_rules,
        window_days=options.life_stage_window_days,
    )
    timed("life_stage", started)
    clv = None
    if clv_step is not None:
        started = time.perf_counter()
        clv = clv_step(engine, lines, as_of, options)
        timed("clv", started)
    return NightlyResult(
        as_of=as_of,
        engine=engine.name,
        rfm=rfm,
        pyramid=pyramid,
        pareto=pareto,
        top_share=share,
        churn=churn,
        churn_trend=trend,
        win_back=back,
        life_stage=stage,
        clv=clv,
        seconds=seconds,
    )
