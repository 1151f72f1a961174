"""API shapes of the insights domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from regulars.core.i18n import _
from regulars.core.schemas import ReadSchema, Schema, refuse


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


# Four ascending cut points of one RFM dimension; ``None`` scores it by quintiles.
Cuts = Annotated[list[Annotated[float, Field(ge=0, le=1e9)]], Field(min_length=4, max_length=4)]
Share = Annotated[float, Field(ge=0, le=1)]


class InsightSettingsRead(ReadSchema):
    """How the analytics run scores members (see ``models.InsightSettings``)."""

    rfm_recency: list[float] | None
    rfm_frequency: list[float] | None
    rfm_monetary: list[float] | None
    pyramid_platinum: float
    pyramid_gold: float
    pyramid_iron: float
    updated_at: datetime
    updated_by: str | None


class InsightSettingsUpdate(Schema):
    """New settings; fields left out keep their value, a cut list sent as null goes back
    to quintiles."""

    rfm_recency: Cuts | None = None
    rfm_frequency: Cuts | None = None
    rfm_monetary: Cuts | None = None
    pyramid_platinum: Share | None = None
    pyramid_gold: Share | None = None
    pyramid_iron: Share | None = None

    @field_validator("rfm_recency", "rfm_frequency", "rfm_monetary")
    @classmethod
    def _ascending(cls, cuts: list[float] | None) -> list[float] | None:
        if cuts is not None and any(b <= a for a, b in pairwise(cuts)):
            refuse(_("four cut points, each larger than the one before"))
        return cuts
