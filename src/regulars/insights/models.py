"""Tables of the insights domain: one row per analytics run, and per member per run.

Snapshots are kept, not overwritten, so that segment movement between two runs can be shown
and a list or campaign can say which run it was built from. Member columns are marked
``info={"merge": False}``: a merge must not move a duplicate's old scores onto the survivor
(they would collide with its own row in the same run); the next run scores the survivor.
An erasure deletes them (``info={"erase": "delete"}``): scores and inferred signals are
personal data derived from the person's baskets.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, Money, UTCDateTime
from regulars.core.timeutil import utcnow

RUN_STATUSES = ("running", "done", "failed")


class ScoreRun(Base):
    """One analytics run: when, on what data, with which engine and settings, and its totals."""

    __tablename__ = "score_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    engine: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str | None] = mapped_column(String(100))


class MemberScore(Base):
    """A member's scores in one run: RFM, profit tier, churn status and lifetime value."""

    __tablename__ = "member_score"
    __table_args__ = (
        UniqueConstraint("run_id", "member_id"),
        Index("ix_member_score_member_run", "member_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_run.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id"), info={"merge": False, "erase": "delete"}
    )
    recency_days: Mapped[int | None]
    frequency: Mapped[int | None]
    monetary: Mapped[Decimal | None] = mapped_column(Money)
    r_score: Mapped[int | None] = mapped_column(SmallInteger)
    f_score: Mapped[int | None] = mapped_column(SmallInteger)
    m_score: Mapped[int | None] = mapped_column(SmallInteger)
    rfm_segment: Mapped[str | None] = mapped_column(String(30), index=True)
    revenue: Mapped[Decimal | None] = mapped_column(Money)
    profit: Mapped[Decimal | None] = mapped_column(Money)
    tier: Mapped[str | None] = mapped_column(String(10))
    loss_making: Mapped[bool] = mapped_column(Boolean, default=False)
    churn_status: Mapped[str | None] = mapped_column(String(10))
    rhythm_days: Mapped[float | None] = mapped_column(Float)
    days_since_last: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[Decimal | None] = mapped_column(Money)


class MemberSignal(Base):
    """A household signal inferred from baskets (baby, pet …), kept only with analytics consent."""

    __tablename__ = "member_signal"
    __table_args__ = (
        UniqueConstraint("run_id", "member_id", "signal"),
        Index("ix_member_signal_member_run", "member_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_run.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id"), info={"merge": False, "erase": "delete"}
    )
    signal: Mapped[str] = mapped_column(String(30))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(String(300))


class InsightSettings(Base):
    """How the analytics run scores members (one row, code ``default``).

    ``rfm_recency`` / ``rfm_frequency`` / ``rfm_monetary``: four ascending cut points of
    that RFM dimension (days; receipts; yuan), or NULL to score it by quintiles of the
    chain's own members, the default. Fixed cut points keep a score's meaning from one run
    to the next (a quintile moves with the customer base), which a chain wants once its
    marketing has settled on what "frequent" means. ``pyramid_*``: the share of members in
    the platinum, gold and iron tiers of the profit pyramid (lead takes the rest).
    Each run copies the settings it used into its ``params``.
    """

    __tablename__ = "insight_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    rfm_recency: Mapped[list[float] | None] = mapped_column(JSON)
    rfm_frequency: Mapped[list[float] | None] = mapped_column(JSON)
    rfm_monetary: Mapped[list[float] | None] = mapped_column(JSON)
    pyramid_platinum: Mapped[float] = mapped_column(Float, default=0.05)
    pyramid_gold: Mapped[float] = mapped_column(Float, default=0.15)
    pyramid_iron: Mapped[float] = mapped_column(Float, default=0.30)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))
