"""Tables of scheduled work."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, UTCDateTime
from regulars.core.timeutil import utcnow


class JobRun(Base):
    """One run of a job for one day: at most one per (job, day), so a restart never repeats it."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(50))
    day: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="running")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
