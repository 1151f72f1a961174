"""Synthetic receipts calibrated on Complete Journey, for scale tests and benchmarks.

Everything the generator draws comes from the data, not from invented distributions:

* **visit intervals** — each generated member takes a Complete Journey household as its
  *home* and draws the gaps between its visits from that household's own observed gaps
  (households seen only once draw from everyone's gaps);
* **basket sizes** — lines per receipt, from the observed distribution;
* **products, quantities and prices** — a generated line copies a real line (product,
  quantity, amount, cost, store): with probability ``affinity`` one of the home household's
  lines, otherwise any line. Drawing a line uniformly is drawing a product by its popularity
  and then a quantity and price that product was really sold at.

``transactions_sample.csv`` is not a sample of households or receipts but of *lines*: 75,000
of the 1,469,307 lines of the full data (the package README), so a receipt shows up with
only the lines that were sampled. Read as it is, it says a basket has 1.6 lines and a
household visits every 18 days. :meth:`Calibration.fit` undoes the thinning when given
``line_fraction`` (:data:`CJ_LINE_FRACTION` for this file): a basket of N lines shows k of
them with probability Binomial(k; N, p), so the true size distribution — a shifted negative
binomial, fitted by maximum likelihood on the observed sizes given k ≥ 1 — is recovered.
Only a share q = E[1 − (1 − p)^N] of baskets shows at all, so a household seen n times
visited about n / q times: its *level* is span × q / n days between visits, and its own
observed gaps divided by their mean give the *shape* (taking the level from the gaps alone
would overrate rare shoppers, whose few visits span less than the year). The fit gives 9.4
lines per basket and 619 lines per household-year, against the full data's 595 (1,469,307
lines over 2,469 households) and the 9.4-line whole baskets of the dunnhumby splits in
``../shared/data/dunnhumby-nbr``. Thinning generated data at p gives back the sample's
basket sizes (tests/analytics/test_generate.py).

Complete Journey has no cost prices. :func:`complete_journey` derives one per line from the
regular (undiscounted) price: ``cost = (sales_value + retail_disc + coupon_match_disc) ×
(1 − margin)`` with ``margin = 0.35``, which leaves a realised gross margin of about 24 % of
sales, close to a US supermarket's, and makes deep promotions sell below cost as they do.
That margin is an assumption, the one number here not taken from the data.

Generation is deterministic for a seed: members are simulated in fixed chunks, each with its
own child of ``numpy.random.SeedSequence(seed)``, so a larger request starts with exactly the
members of a smaller one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from regulars.analytics.calibration import (
    CJ_LINE_FRACTION,
    COMPLETE_JOURNEY,
    START,
    Calibration,
    complete_journey,
    default_calibration,
)
from regulars.analytics.frames import LINES, MEMBERS
from regulars.analytics.rfm import DAY_US

__all__ = [
    "CJ_LINE_FRACTION",
    "COMPLETE_JOURNEY",
    "Calibration",
    "complete_journey",
    "default_calibration",
    "generate",
    "generate_parquet",
    "thin",
    "write_parquet",
]

#: Members simulated per chunk: fixed, so that the data for a seed never depends on the size.
CHUNK_MEMBERS = 2_000


def _chunk(
    cal: Calibration, rng: np.random.Generator, first_member: int, members: int, days: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Simulate ``members`` members over ``days`` days: their lines (no receipt ids yet)."""
    homes = rng.integers(0, len(cal.gap_counts), size=members)

    def gap(owner: np.ndarray) -> np.ndarray:
        pick = cal.gap_offsets[owner] + (rng.random(len(owner)) * cal.gap_counts[owner]).astype(
            np.int64
        )
        return np.asarray(cal.gaps[pick] * cal.gap_scale[owner], dtype=np.float64)

    # A renewal process observed from a random moment: the first visit falls uniformly
    # within a first gap.
    clock = rng.random(members) * gap(homes)
    owners: list[np.ndarray] = []
    times: list[np.ndarray] = []
    alive = np.flatnonzero(clock < days)
    while alive.size:
        owners.append(alive)
        times.append(clock[alive])
        clock[alive] += np.maximum(gap(homes[alive]), 1e-6)
        alive = alive[clock[alive] < days]
    visit_member = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    visit_day = np.concatenate(times) if times else np.zeros(0)
    order = np.lexsort((visit_day, visit_member))
    visit_member, visit_day = visit_member[order], visit_day[order]
    sizes = rng.choice(len(cal.basket_p), size=len(visit_member), p=cal.basket_p)
    sizes = np.maximum(sizes, 1)
    visit_of_line = np.repeat(np.arange(len(visit_member)), sizes)
    home_of_line = homes[visit_member[visit_of_line]]
    own = rng.random(len(visit_of_line)) < AFFINITY
    pick = rng.integers(0, cal.pool.height, size=len(visit_of_line))
    own_pick = cal.line_offsets[home_of_line] + (
        rng.random(len(visit_of_line)) * cal.line_counts[home_of_line]
    ).astype(np.int64)
    pick = np.where(own & (cal.line_counts[home_of_line] > 0), own_pick, pick)
    # The receipt's store is the store of its first line, as at a till.
    first_line = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    store = cal.pool["store_id"].to_numpy()[pick[first_line]]
    drawn = cal.pool[pick].drop("store_id")
    at_us = (visit_day * DAY_US).astype(np.int64)
    lines = drawn.with_columns(
        pl.Series("visit", visit_of_line, dtype=pl.Int64),
        pl.Series("member_id", first_member + visit_member[visit_of_line], dtype=pl.Int64),
        pl.Series("store_id", store[visit_of_line], dtype=pl.Int64),
        pl.Series("at_us", at_us[visit_of_line], dtype=pl.Int64),
    )
    member_ids = np.arange(first_member, first_member + members, dtype=np.int64)
    first_visit = np.full(members, np.nan)
    if len(visit_member):
        starts = np.flatnonzero(np.r_[True, visit_member[1:] != visit_member[:-1]])
        first_visit[visit_member[starts]] = visit_day[starts]
    registered = pl.Series("day", np.nan_to_num(first_visit, nan=0.0))
    return lines, pl.DataFrame({"member_id": member_ids, "day": registered})


#: The chance that a generated line is one of the home household's own lines rather than any
#: line: it keeps households recognisable (their pets and babies) without cloning them.
AFFINITY = 0.5


def _chunks(
    n_lines: int, *, seed: int, members: int | None, cal: Calibration, start: datetime
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Yield (lines, members) chunks in the frames schemas until ``n_lines`` lines are made."""
    days = 365.0
    if members is not None:
        days = n_lines / (members * cal.lines_per_member_day)
    sequence = np.random.SeedSequence(seed)
    start_us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    made = 0
    receipt = 1
    index = 0
    while made < n_lines:
        rng = np.random.Generator(np.random.PCG64(sequence.spawn(1)[0]))
        lines, people = _chunk(cal, rng, 1 + index * CHUNK_MEMBERS, CHUNK_MEMBERS, days)
        index += 1
        if lines.height > n_lines - made:
            # The last chunk: keep its members up to the last one who still has lines.
            lines = lines.head(n_lines - made)
            people = people.filter(pl.col("member_id") <= lines["member_id"].max())
        made += lines.height
        visits = lines["visit"].unique(maintain_order=True)
        lines = lines.with_columns(
            (pl.col("visit").rank("dense").cast(pl.Int64) - 1 + receipt).alias("receipt_id"),
            (pl.col("at_us") + start_us).cast(pl.Datetime("us", "UTC")).alias("at"),
        )
        receipt += visits.len()
        people = people.select(
            "member_id",
            ((pl.col("day") * DAY_US).cast(pl.Int64) + start_us)
            .cast(pl.Datetime("us", "UTC"))
            .alias("registered_at"),
            pl.lit(True).alias("consent_analytics"),
            pl.lit(True).alias("consent_personalised"),
        )
        yield lines.select(list(LINES)).cast(pl.Schema(LINES)), people.cast(pl.Schema(MEMBERS))


def generate(
    n_lines: int,
    *,
    seed: int,
    members: int | None = None,
    calibration: Calibration | None = None,
    start: datetime = START,
) -> dict[str, pl.DataFrame]:
    """``n_lines`` lines of receipts from ``start``, with their products and members.

    By default the members shop for a year, as in Complete Journey; given ``members``, the
    period is stretched or shrunk so that about that many members make the lines (a few more
    or less: visits are random).
    """
    cal = calibration or default_calibration()
    parts = list(_chunks(n_lines, seed=seed, members=members, cal=cal, start=start))
    lines = pl.concat([p[0] for p in parts]) if parts else pl.DataFrame(schema=pl.Schema(LINES))
    people = _members([p[1] for p in parts])
    return {"lines": lines, "products": cal.products, "members": people}


def _members(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The members of every chunk in one table."""
    return pl.concat(parts) if parts else pl.DataFrame(schema=pl.Schema(MEMBERS))


def write_parquet(tables: Mapping[str, pl.DataFrame], directory: Path) -> dict[str, Path]:
    """Write each table to ``directory/<name>.parquet`` (the layout extract uses)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in tables.items():
        paths[name] = directory / f"{name}.parquet"
        table.write_parquet(paths[name])
    return paths


def generate_parquet(
    directory: Path,
    n_lines: int,
    *,
    seed: int,
    members: int | None = None,
    calibration: Calibration | None = None,
    start: datetime = START,
) -> dict[str, Path]:
    """Like :func:`generate` but written chunk by chunk, so memory holds one chunk at a time.

    The chunks go to part files that are then streamed into ``lines.parquet``.
    """
    cal = calibration or default_calibration()
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.parquet" for name in ("lines", "products", "members")}
    parts_dir = directory / "lines.parts"
    parts_dir.mkdir(exist_ok=True)
    people: list[pl.DataFrame] = []
    parts: list[Path] = []
    try:
        for lines, chunk_members in _chunks(
            n_lines, seed=seed, members=members, cal=cal, start=start
        ):
            parts.append(parts_dir / f"part-{len(parts):05d}.parquet")
            lines.write_parquet(parts[-1])
            people.append(chunk_members)
        if parts:
            pl.scan_parquet(parts).sink_parquet(paths["lines"])
        else:
            pl.DataFrame(schema=pl.Schema(LINES)).write_parquet(paths["lines"])
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
        parts_dir.rmdir()
    _members(people).write_parquet(paths["members"])
    cal.products.write_parquet(paths["products"])
    return paths


def thin(lines: pl.DataFrame, fraction: float, *, seed: int) -> pl.DataFrame:
    """Keep each line with probability ``fraction``: how a line sample like CJ's is made."""
    rng = np.random.default_rng(seed)
    return lines.filter(pl.Series(rng.random(lines.height) < fraction))
