"""Reads of the insights domain: runs, segment sizes and movement, member scores, lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from regulars.core.errors import InvalidInput, NotFound
from regulars.core.i18n import _
from regulars.insights.models import MemberScore, MemberSignal, ScoreRun

__all__ = [
    "MEMBER_FILTERS",
    "member_insights",
    "members_scored",
    "run_get",
    "run_latest",
    "run_previous",
    "runs_list",
    "segment_member_ids",
    "segment_movement",
]

#: The columns a member list may be filtered on, and their allowed values.
MEMBER_FILTERS = ("rfm_segment", "tier", "churn_status")
ORDERS: dict[str, Any] = {
    "clv": MemberScore.clv.desc(),
    "profit": MemberScore.profit.desc(),
    "monetary": MemberScore.monetary.desc(),
    "overdue": MemberScore.days_since_last.desc(),
    "loss": MemberScore.profit.asc(),
}


def runs_list(session: Session, *, limit: int = 20) -> list[ScoreRun]:
    """The newest runs first."""
    return list(session.scalars(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(limit)))


def run_get(session: Session, *, run_id: int) -> ScoreRun:
    """One run, or ``NotFound``."""
    run = session.get(ScoreRun, run_id)
    if run is None:
        raise NotFound(_("analytics run {id} not found"), field="run_id", id=run_id)
    return run


def run_latest(session: Session) -> ScoreRun | None:
    """The newest finished run, if any."""
    return session.scalars(
        select(ScoreRun).where(ScoreRun.status == "done").order_by(ScoreRun.id.desc()).limit(1)
    ).first()


def run_previous(session: Session, run: ScoreRun) -> ScoreRun | None:
    """The finished run before ``run``, for movement between the two."""
    return session.scalars(
        select(ScoreRun)
        .where(ScoreRun.status == "done", ScoreRun.id < run.id)
        .order_by(ScoreRun.id.desc())
        .limit(1)
    ).first()


def segment_movement(
    session: Session, *, run_id: int, previous_id: int, column: str = "rfm_segment"
) -> list[tuple[str | None, str | None, int]]:
    """(before, after, members) for members scored in both runs, largest moves first."""
    if column not in MEMBER_FILTERS:
        raise InvalidInput(_("cannot group by {column}"), field="column", column=column)
    now, before = aliased(MemberScore), aliased(MemberScore)
    now_col, before_col = getattr(now, column), getattr(before, column)
    query = (
        select(before_col, now_col, func.count())
        .select_from(now)
        .join(before, before.member_id == now.member_id)
        .where(now.run_id == run_id, before.run_id == previous_id)
        .group_by(before_col, now_col)
        .order_by(func.count().desc())
    )
    rows: list[Any] = list(session.execute(query))
    return [(a, b, int(n)) for a, b, n in rows]


@dataclass(frozen=True)
class MemberInsights:
    """A member's scores in the latest run that scored them, and their earlier runs."""

    score: MemberScore | None
    run: ScoreRun | None
    signals: list[MemberSignal]
    history: list[tuple[ScoreRun, MemberScore]]


def member_insights(session: Session, *, member_id: int, history: int = 6) -> MemberInsights:
    """What analytics know about one member (signals only exist with analytics consent)."""
    rows = session.execute(
        select(ScoreRun, MemberScore)
        .join(MemberScore, MemberScore.run_id == ScoreRun.id)
        .where(MemberScore.member_id == member_id, ScoreRun.status == "done")
        .order_by(ScoreRun.id.desc())
        .limit(history)
    ).all()
    pairs = [(run, score) for run, score in rows]
    if not pairs:
        return MemberInsights(score=None, run=None, signals=[], history=[])
    run, score = pairs[0]
    signals = list(
        session.scalars(
            select(MemberSignal)
            .where(MemberSignal.member_id == member_id, MemberSignal.run_id == run.id)
            .order_by(MemberSignal.score.desc())
        )
    )
    return MemberInsights(score=score, run=run, signals=signals, history=pairs)


def _filtered(
    run_id: int, filters: dict[str, str | None], *, loss_making: bool = False
) -> Select[Any]:
    query = select(MemberScore).where(MemberScore.run_id == run_id)
    if loss_making:
        query = query.where(MemberScore.loss_making.is_(True))
    for column, value in filters.items():
        if column not in MEMBER_FILTERS:
            raise InvalidInput(_("cannot filter on {column}"), field=column, column=column)
        if value:
            query = query.where(getattr(MemberScore, column) == value)
    return query


def members_scored(
    session: Session,
    *,
    run_id: int,
    filters: dict[str, str | None],
    loss_making: bool = False,
    order: str = "clv",
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[MemberScore]]:
    """Scored members of a run matching ``filters`` (total, one page), most valuable first.

    ``loss_making`` keeps only the members whose gross margin was negative (the pyramid's
    loss-makers, named so that staff can look at what they buy); order ``loss`` puts the
    largest loss first.
    """
    if order not in ORDERS:
        raise InvalidInput(_("cannot sort by {order}"), field="order", order=order)
    query = _filtered(run_id, filters, loss_making=loss_making)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = session.scalars(
        query.order_by(ORDERS[order].nulls_last(), MemberScore.member_id)
        .limit(limit)
        .offset(offset)
    )
    return total, list(page)


def segment_member_ids(
    session: Session,
    *,
    run_id: int,
    filters: dict[str, str | None],
    loss_making: bool = False,
) -> list[int]:
    """Member ids of a segment (for campaigns and lists)."""
    query = _filtered(run_id, filters, loss_making=loss_making).with_only_columns(
        MemberScore.member_id
    )
    return [int(m) for m in session.scalars(query.order_by(MemberScore.member_id))]
