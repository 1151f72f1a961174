"""Writes of the insights domain: start a run, store its snapshot, mark it failed.

Analytics compute; this domain owns what they produce. Rows are inserted in bulk with
SQLAlchemy Core (tens of thousands of members per run), in the caller's transaction.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import insert, select

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _
from regulars.core.timeutil import as_utc, utcnow
from regulars.core.uow import UnitOfWork
from regulars.insights.models import InsightSettings, MemberScore, MemberSignal, ScoreRun
from regulars.insights.schemas import InsightSettingsUpdate

__all__ = ["SCORE_COLUMNS", "SIGNAL_COLUMNS", "run_fail", "run_start", "run_store"]

ENGINES = ("local", "spark")

#: The member-level frame a run stores (any column may be null but member_id).
SCORE_COLUMNS = (
    "member_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "revenue",
    "profit",
    "tier",
    "loss_making",
    "churn_status",
    "rhythm_days",
    "days_since_last",
    "p_alive",
    "expected_purchases",
    "clv",
)
SIGNAL_COLUMNS = ("member_id", "signal", "score", "evidence")
_MONEY = {"monetary", "revenue", "profit", "clv"}
_INTS = {"recency_days", "frequency", "r_score", "f_score", "m_score"}
BATCH = 5_000


def run_start(
    uow: UnitOfWork,
    *,
    as_of: datetime,
    engine: str,
    params: dict[str, Any] | None = None,
    started_by: str | None = None,
) -> ScoreRun:
    """Record the start of a run on the data before ``as_of``."""
    if engine not in ENGINES:
        raise InvalidInput(_("unknown engine {engine}"), field="engine", engine=engine)
    run = ScoreRun(as_of=as_utc(as_of), engine=engine, params=params or {}, started_by=started_by)
    uow.session.add(run)
    uow.flush()
    return run


def _clean(column: str, value: Any) -> Any:
    """A frame value as the ORM column wants it (NaN → null, money → Decimal cents)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None if column != "loss_making" else False
    if column in _MONEY:
        return Decimal(str(round(float(value), 2)))
    if column in _INTS:
        return int(value)
    return value


def _rows(frame: pl.DataFrame, columns: tuple[str, ...], run_id: int) -> list[dict[str, Any]]:
    present = [c for c in columns if c in frame.columns]
    return [
        {"run_id": run_id, **{c: _clean(c, row[c]) for c in present}}
        for row in frame.select(present).iter_rows(named=True)
    ]


def run_store(
    uow: UnitOfWork,
    run: ScoreRun,
    *,
    scores: pl.DataFrame,
    signals: pl.DataFrame,
    summary: dict[str, Any],
) -> ScoreRun:
    """Store a finished run's member scores, household signals and totals."""
    if "member_id" not in scores.columns:
        raise InvalidInput(_("scores need a member_id column"), field="scores")
    for table, frame, columns in (
        (MemberScore, scores, SCORE_COLUMNS),
        (MemberSignal, signals, SIGNAL_COLUMNS),
    ):
        rows = _rows(frame, columns, run.id)
        for start in range(0, len(rows), BATCH):
            uow.session.execute(insert(table), rows[start : start + BATCH])
    finished = utcnow()
    run.status = "done"
    run.finished_at = finished
    run.seconds = (finished - as_utc(run.started_at)).total_seconds()
    run.summary = summary
    uow.flush()
    return run


def run_fail(uow: UnitOfWork, run: ScoreRun, *, error: str) -> ScoreRun:
    """Mark a run failed with its reason (its partial rows are not kept)."""
    run.status = "failed"
    run.finished_at = utcnow()
    run.error = error[:2000]
    uow.flush()
    return run


def settings_get(uow: UnitOfWork) -> InsightSettings:
    """The scoring settings, created with the defaults (quintiles; 5/15/30 %) on first use."""
    found = uow.session.scalars(
        select(InsightSettings).where(InsightSettings.code == "default")
    ).first()
    if found is None:
        found = InsightSettings(
            code="default", pyramid_platinum=0.05, pyramid_gold=0.15, pyramid_iron=0.30
        )
        uow.session.add(found)
        uow.flush()
    return found


def settings_update(
    uow: UnitOfWork, *, data: InsightSettingsUpdate, actor: str
) -> tuple[InsightSettings, dict[str, Any]]:
    """Change the fields sent (a cut list sent as null goes back to quintiles); returns the
    row and what changed (old and new value per field), for the audit trail.

    The three pyramid shares together must leave room for lead: at most every member.
    """
    found = settings_get(uow)
    changed: dict[str, Any] = {}
    for key in data.model_fields_set:
        value = getattr(data, key)
        if key.startswith("pyramid_") and value is None:
            continue  # a share has no "default" of its own to go back to
        if getattr(found, key) != value:
            changed[key] = {"from": getattr(found, key), "to": value}
            setattr(found, key, value)
    if found.pyramid_platinum + found.pyramid_gold + found.pyramid_iron > 1:
        raise InvalidInput(
            _("platinum, gold and iron together can hold at most every member"),
            field="pyramid_iron",
        )
    if changed:
        found.updated_at = utcnow()
        found.updated_by = actor
    uow.flush()
    return found, changed
