"""API shapes of the insights domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from regulars.core.schemas import ReadSchema, Schema


class RunRead(ReadSchema):
    """An analytics run and its totals."""

    id: int
    as_of: datetime
    engine: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    params: dict[str, Any]
    summary: dict[str, Any]
    error: str | None
    started_by: str | None


class RunIn(Schema):
    """Start a run now on the local engine (Spark runs are started from the CLI)."""

    engine: Literal["local"] = "local"


class ScoreRead(ReadSchema):
    """A member's scores in one run."""

    run_id: int
    member_id: int
    recency_days: int | None
    frequency: int | None
    monetary: Decimal | None
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_segment: str | None
    revenue: Decimal | None
    profit: Decimal | None
    tier: str | None
    loss_making: bool
    churn_status: str | None
    rhythm_days: float | None
    days_since_last: float | None
    p_alive: float | None
    expected_purchases: float | None
    clv: Decimal | None


class SignalRead(ReadSchema):
    """A household signal inferred from baskets."""

    signal: str
    score: float
    evidence: str | None


class MemberInsightsRead(Schema):
    """What analytics know about one member."""

    member_id: int
    score: ScoreRead | None
    signals: list[SignalRead]


class ScoredPage(Schema):
    """One page of scored members."""

    total: int
    items: list[ScoreRead]
