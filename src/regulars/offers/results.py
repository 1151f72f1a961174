"""Results of a cycle: redemption, and incremental sales of list members over the control.

Incremental sales are measured per member as the change in spend (during the cycle minus
the same length before it), list members against the randomised control group; the
difference of the mean changes comes with Welch's t interval (unequal variances,
Welch–Satterthwaite degrees of freedom). Using each member's change rather than their
spend removes most of the between-member variance, and randomisation makes the
difference an unbiased estimate of the lists' effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.offers.models import PersonalList
from regulars.offers.queries import CycleRedemption, cycle_redemption


@dataclass(frozen=True)
class Interval:
    """A difference of means with its confidence interval and group sizes."""

    difference: float
    low: float
    high: float
    n_treated: int
    n_control: int
    confidence: float


def welch_interval(
    treated: Sequence[float], control: Sequence[float], *, confidence: float = 0.95
) -> Interval | None:
    """Welch's interval for mean(treated) − mean(control); ``None`` below two per group."""
    if len(treated) < 2 or len(control) < 2:
        return None
    na, nb = len(treated), len(control)
    ma, mb = sum(treated) / na, sum(control) / nb
    va = sum((x - ma) ** 2 for x in treated) / (na - 1)
    vb = sum((x - mb) ** 2 for x in control) / (nb - 1)
    se2 = va / na + vb / nb
    diff = ma - mb
    if se2 == 0:
        return Interval(diff, diff, diff, na, nb, confidence)
    df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se2**0.5
    return Interval(diff, diff - half, diff + half, na, nb, confidence)


@dataclass(frozen=True)
class CycleResults:
    """A cycle's redemption and, once measured, its incremental sales per member."""

    redemption: CycleRedemption
    uplift: Interval | None
    measured: bool


def cycle_results(session: Session, *, cycle_id: int, confidence: float = 0.95) -> CycleResults:
    """Redemption rates and the uplift interval of one cycle."""
    rows = session.execute(
        select(PersonalList.group, PersonalList.spend_before, PersonalList.spend_during).where(
            PersonalList.cycle_id == cycle_id, PersonalList.spend_during.is_not(None)
        )
    ).all()
    change = [(g, float(d or 0) - float(b or 0)) for g, b, d in rows]
    treated = [c for g, c in change if g == "list"]
    control = [c for g, c in change if g == "control"]
    return CycleResults(
        redemption=cycle_redemption(session, cycle_id=cycle_id),
        uplift=welch_interval(treated, control, confidence=confidence),
        measured=bool(rows),
    )
