"""Why an item is on a member's list: reason codes, their parameters and their sentences.

Each predicted (user, item) gets one reason, chosen from the facts the model scored — not
from the weights, so the sentence is always literally true of the member's history:

* ``rhythm`` — bought at least three times at regular intervals (their spread below
  ``REGULAR_SPREAD`` of the mean): ``{"every_days", "last_days"}``, or
  ``{"every_visits", "last_visits"}`` for undated histories;
* ``often`` — bought on several visits: ``{"times", "visits"}``;
* ``again`` — bought once: ``{"last_days"}`` or ``{"last_visits"}`` (visits since, 0 when
  it was bought on the latest visit);
* ``household`` — serves one of the member's household signals: ``{"signal"}``;
* ``category`` — new to the member, from a category they buy: ``{"category", "visits"}``;
* ``popular`` — new to the member, popular with everyone: ``{"share"}`` (% of shoppers).

The parameters travel as a JSON object next to the code; :func:`reason_text` renders them
in the member's language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl

from regulars.analytics.repurchase_summary import Summary
from regulars.core.i18n import _, translate

__all__ = ["REASONS", "REGULAR_SPREAD", "explain", "reason_text"]

#: The reason codes and the message for each set of parameters they come with.
REASONS: Mapping[tuple[str, frozenset[str]], str] = {
    ("rhythm", frozenset({"every_days", "last_days"})): _(
        "you buy this about every {every_days} days; last bought {last_days} days ago"
    ),
    ("rhythm", frozenset({"every_visits", "last_visits"})): _(
        "you buy this about every {every_visits} visits; "
        "{last_visits} visits since you last bought it"
    ),
    ("often", frozenset({"times", "visits"})): _(
        "you bought this on {times} of your {visits} visits"
    ),
    ("again", frozenset({"last_days"})): _("you bought this {last_days} days ago"),
    ("again", frozenset({"last_visits"})): _("{last_visits} visits since you bought this"),
    ("household", frozenset({"signal"})): _("chosen for your household ({signal})"),
    ("category", frozenset({"category", "visits"})): _("you often buy {category}"),
    ("popular", frozenset({"share"})): _("popular: {share}% of shoppers buy it"),
}

REGULAR_SPREAD = 0.75  # intervals whose spread (sd / mean) is below this make a rhythm


def _json(**fields: pl.Expr) -> pl.Expr:
    """A JSON object string built from named expressions."""
    return pl.struct([expr.alias(name) for name, expr in fields.items()]).struct.json_encode()


def explain(summary: Summary, top: pl.DataFrame) -> pl.DataFrame:
    """Give each predicted row its reason code, parameters (JSON) and expected days.

    ``top`` carries the facts :func:`~regulars.analytics.repurchase_features.feature_frame`
    joined to each candidate; ``expected_days`` counts from ``summary.as_of`` to the last
    purchase plus the usual interval (dated histories, items bought at least twice).
    """
    count = pl.col("count")
    if summary.dated:
        as_of = summary.as_of or 0
        days_since = (pl.lit(as_of) - pl.col("last_day")).cast(pl.Int64)
        day_gap = (pl.col("last_day") - pl.col("first_day")).cast(pl.Float64) / (count - 1)
        regular = (
            (count >= 3) & (day_gap >= 1.0) & (pl.col("gap_day_sd") <= REGULAR_SPREAD * day_gap)
        )
        rhythm = _json(every_days=day_gap.round().cast(pl.Int64), last_days=days_since)
        again = _json(last_days=days_since)
        expected: pl.Expr = pl.when(count >= 2).then(
            (pl.col("last_day") + day_gap - as_of).round().clip(lower_bound=0)
        )
    else:
        visits_since = pl.col("visits") - 1 - pl.col("last_visit").cast(pl.Int64)
        visit_gap = (pl.col("last_visit") - pl.col("first_visit")).cast(pl.Float64) / (count - 1)
        regular = count >= 3
        rhythm = _json(
            every_visits=visit_gap.round().clip(lower_bound=1).cast(pl.Int64),
            last_visits=visits_since,
        )
        again = _json(last_visits=visits_since)
        expected = pl.lit(None, pl.Int32)
    share = (pl.col("buyers") * 100.0 / max(summary.population, 1)).round(1)
    code = (
        pl.when(regular)
        .then(pl.lit("rhythm"))
        .when(count >= 2)
        .then(pl.lit("often"))
        .when(count == 1)
        .then(pl.lit("again"))
        .when(pl.col("signal").is_not_null())
        .then(pl.lit("household"))
        .when(pl.col("category_visits") > 0)
        .then(pl.lit("category"))
        .otherwise(pl.lit("popular"))
    )
    is_code = pl.col("reason_code").eq
    return top.with_columns(reason_code=code).with_columns(
        reason_params=pl.when(is_code("rhythm"))
        .then(rhythm)
        .when(is_code("often"))
        .then(_json(times=count, visits=pl.col("visits")))
        .when(is_code("again"))
        .then(again)
        .when(is_code("household"))
        .then(_json(signal=pl.col("signal")))
        .when(is_code("category"))
        .then(_json(category=pl.col("category"), visits=pl.col("category_visits")))
        .otherwise(_json(share=share)),
        expected_days=expected.cast(pl.Int32),
    )


def reason_text(code: str, params: Mapping[str, Any] | str, locale: str | None = None) -> str:
    """The sentence a list shows for a reason code and its parameters, in ``locale``."""
    values: Mapping[str, Any] = json.loads(params) if isinstance(params, str) else params
    message = REASONS.get((code, frozenset(values)))
    if message is None:
        raise ValueError(f"unknown reason {code!r} with parameters {sorted(values)}")
    return translate(message, locale, **values)
