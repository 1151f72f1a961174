"""CLV model fitting: Regulars' BG/NBD and Gamma-Gamma against the ``lifetimes`` package.

Both fit the same summaries, built by :func:`regulars.analytics.clv.clv_summary` from the
CDNOW files (read in place) with the published convention: purchases counted per day, time
in weeks, calibration 1997-01-01 … 1997-09-30 (39 weeks). Rows: the 2,357-customer sample
(Fader, Hardie & Lee 2005) and all 23,570 customers of ``CDNOW_master.txt``.

Timed: one call of the fit on the summary columns, median of several runs (lifetimes' fit
also computes the Hessian for standard errors — that is part of what a user waits for).
The log-likelihoods are evaluated with Regulars' function at each package's parameters, so
they are comparable; higher is better.

``run()`` returns the markdown section; ``python benchmarks/clv_fit.py`` writes it to
``benchmarks/results/analytics.md`` (its ``clv_fit.py`` section).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from lifetimes import BetaGeoFitter, GammaGammaFitter

from regulars.analytics.clv import (
    bgnbd_fit,
    bgnbd_log_likelihood,
    clv_summary,
    expected_purchases,
    gamma_gamma_fit,
    gamma_gamma_log_likelihood,
    p_alive,
)
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow"
CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)  # the end of week 78
RUNS = 9


def read_cdnow(path: Path, id_field: int) -> pl.DataFrame:
    """A CDNOW text file (blank-separated; the date third from the end, dollars last)."""
    rows = [
        line.split()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("customer")
    ]
    return pl.DataFrame(
        {
            "id": [int(row[id_field]) for row in rows],
            "date": [datetime.strptime(row[-3], "%Y%m%d").date() for row in rows],
            "value": [float(row[-1]) for row in rows],
        }
    )


def summarise(transactions: pl.DataFrame) -> pl.DataFrame:
    """The weekly, day-counted calibration summary."""
    return clv_summary(
        transactions,
        observation_end=CALIBRATION_END,
        period_days=7,
        grain_days=1,
        customer_col="id",
        time_col="date",
        value_col="value",
    )


def interleaved(calls: list[Callable[[], Any]], runs: int) -> list[tuple[float, Any]]:
    """Median seconds of each call and its last result, the calls taking turns in each round
    so that a change in the shared machine's load hits all of them alike."""
    seconds: list[list[float]] = [[] for _ in calls]
    results: list[Any] = [None] * len(calls)
    for _ in range(runs):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            results[i] = call()
            seconds[i].append(time.perf_counter() - start)
    return [(statistics.median(s), r) for s, r in zip(seconds, results, strict=True)]


def timed(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median seconds of ``runs`` calls, and the last result."""
    seconds, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def quiet(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` with lifetimes' warnings (pandas, numpy deprecations) silenced, and counted."""

    def wrapped() -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        WARNINGS.update(f"{w.category.__name__}: {str(w.message)[:90]}" for w in caught)
        return result

    return wrapped


WARNINGS: set[str] = set()


def compare(name: str, summary: pl.DataFrame) -> list[str]:
    """Markdown rows comparing both packages on one summary."""
    x, tx, big_t = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    m = summary["monetary_value"].to_numpy()
    frame = pd.DataFrame({"x": x, "tx": tx, "T": big_t, "m": m})
    # The same collapsing Regulars does, handed to lifetimes as weights: how much is that?
    grouped = frame.groupby(["x", "tx", "T"], as_index=False).size()
    repeat = (x > 0) & (m > 0)
    (
        (ours_bg_s, ours_bg),
        (theirs_bg_s, theirs_bg),
        (theirs_w_s, _),
        (ours_gg_s, ours_gg),
        (theirs_gg_s, theirs_gg),
    ) = interleaved(
        [
            lambda: bgnbd_fit(x, tx, big_t),
            quiet(lambda: BetaGeoFitter().fit(frame["x"], frame["tx"], frame["T"])),
            quiet(
                lambda: BetaGeoFitter().fit(
                    grouped["x"], grouped["tx"], grouped["T"], weights=grouped["size"]
                )
            ),
            lambda: gamma_gamma_fit(x, m),
            quiet(lambda: GammaGammaFitter().fit(frame["x"][repeat], frame["m"][repeat])),
        ],
        RUNS,
    )
    tp = theirs_bg.params_
    theirs_bg_ll = bgnbd_log_likelihood(tp["r"], tp["alpha"], tp["a"], tp["b"], x, tx, big_t)
    gp = theirs_gg.params_
    theirs_gg_ll = gamma_gamma_log_likelihood(gp["p"], gp["q"], gp["v"], x, m)
    bg_gap = max(abs(getattr(ours_bg, k) / tp[k] - 1) for k in ("r", "alpha", "a", "b"))
    gg_gap = max(abs(getattr(ours_gg, k) / gp[k] - 1) for k in ("p", "q", "v"))
    # Predictions of each package from its own fit: 39 weeks ahead, and P(alive).
    ours_pred = expected_purchases(ours_bg, 39, x, tx, big_t)
    theirs_pred = quiet(
        lambda: theirs_bg.conditional_expected_number_of_purchases_up_to_time(39, x, tx, big_t)
    )()
    theirs_alive = quiet(lambda: theirs_bg.conditional_probability_alive(x, tx, big_t))()
    pred_gap = float(np.max(np.abs(ours_pred - np.asarray(theirs_pred))))
    alive_gap = float(np.max(np.abs(p_alive(ours_bg, x, tx, big_t) - np.asarray(theirs_alive))))
    return [
        f"| {name} | BG/NBD | Regulars | r {ours_bg.r:.4f}, α {ours_bg.alpha:.4f},"
        f" a {ours_bg.a:.4f}, b {ours_bg.b:.4f} | {ours_bg.log_likelihood:,.3f}"
        f" | {ours_bg_s * 1000:.1f} | {ours_bg_s / theirs_bg_s:.3f} |",
        f"| {name} | BG/NBD | lifetimes | r {tp['r']:.4f}, α {tp['alpha']:.4f},"
        f" a {tp['a']:.4f}, b {tp['b']:.4f} | {theirs_bg_ll:,.3f}"
        f" | {theirs_bg_s * 1000:.1f} | 1 |",
        f"| {name} | BG/NBD | lifetimes, collapsed rows as weights | (same) | |"
        f" {theirs_w_s * 1000:.1f} | {theirs_w_s / theirs_bg_s:.3f} |",
        f"| {name} | Gamma-Gamma | Regulars | p {ours_gg.p:.4f}, q {ours_gg.q:.4f},"
        f" γ {ours_gg.v:.4f} | {ours_gg.log_likelihood:,.3f}"
        f" | {ours_gg_s * 1000:.1f} | {ours_gg_s / theirs_gg_s:.3f} |",
        f"| {name} | Gamma-Gamma | lifetimes | p {gp['p']:.4f}, q {gp['q']:.4f},"
        f" γ {gp['v']:.4f} | {theirs_gg_ll:,.3f} | {theirs_gg_s * 1000:.1f} | 1 |",
        f"| {name} | | largest parameter difference | BG/NBD {bg_gap:.1e},"
        f" Gamma-Gamma {gg_gap:.1e} | | | |",
        f"| {name} | | largest prediction difference | 39-week purchases {pred_gap:.1e}"
        f" (total {ours_pred.sum():,.1f}), P(alive) {alive_gap:.1e} | | | |",
    ]


def holdout(sample: pl.DataFrame, summary: pl.DataFrame) -> list[str]:
    """Predicted against actual repeat purchase days in weeks 40–78, Regulars and lifetimes.

    Rows group customers by their calibration frequency (0, 1, …, 6, 7+), as in the
    conditional-expectation check of Fader, Hardie and Lee (2005).
    """
    kept = sample.filter((pl.col("date") > CALIBRATION_END) & (pl.col("date") <= HOLDOUT_END))
    actual = (
        summary.select("id")
        .join(kept.group_by("id").agg(pl.col("date").n_unique().alias("n")), on="id", how="left")
        .fill_null(0)["n"]
        .to_numpy()
        .astype(float)
    )
    x, t_x, big_t = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    ours = expected_purchases(bgnbd_fit(x, t_x, big_t), 39, x, t_x, big_t)
    fitter = BetaGeoFitter()
    quiet(lambda: fitter.fit(x, t_x, big_t))()
    theirs = np.asarray(
        fitter.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, big_t)
    )
    groups = np.minimum(x, 7).astype(int)
    rows = []
    for g in range(8):
        chosen = groups == g
        rows.append(
            f"| {g if g < 7 else '7+'} | {int(chosen.sum()):,} | {actual[chosen].mean():.3f}"
            f" | {ours[chosen].mean():.3f} | {theirs[chosen].mean():.3f} |"
        )
    naive = np.abs(actual.mean() - actual).mean()
    return [
        "## Holdout: weeks 40–78 of the CDNOW sample",
        "",
        "Repeat purchase days per customer in the 39 weeks after calibration, predicted by each"
        " package's fitted BG/NBD from the calibration summary, against what happened.",
        "",
        "| calibration repeat purchases | customers | actual mean | Regulars mean"
        " | lifetimes mean |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *rows,
        f"| **all** | {len(actual):,} | {actual.sum():,.0f} in total | {ours.sum():,.1f}"
        f" ({ours.sum() / actual.sum() - 1:+.1%}) | {theirs.sum():,.1f} |",
        "",
        f"Mean absolute error per customer: Regulars {np.abs(ours - actual).mean():.3f},"
        f" lifetimes {np.abs(theirs - actual).mean():.3f}; predicting every customer the"
        f" mean: {naive:.3f}.",
        "",
    ]


def run() -> str:
    """Fit both packages on the CDNOW sample and master summaries; return markdown."""
    sample = read_cdnow(CDNOW / "CDNOW_sample.txt", id_field=1)
    master = read_cdnow(CDNOW / "CDNOW_master.txt", id_field=0)
    summary_s, sample_summary = timed(lambda: summarise(sample), 5)
    summary_m, master_summary = timed(lambda: summarise(master), 5)
    rows = compare(f"sample ({sample_summary.height:,})", sample_summary)
    rows += compare(f"master ({master_summary.height:,})", master_summary)
    out = [
        "## CLV model fitting: Regulars against lifetimes",
        "",
        f"CDNOW, 39-week calibration, weekly periods, purchases counted per day."
        f" Python {platform.python_version()}, numpy {np.__version__},"
        f" lifetimes {__import__('lifetimes').__version__}, {os.cpu_count()} CPUs."
        f" Median of {RUNS} fits each, the packages taking turns.",
        "",
        "| customers | model | package | parameters | log-likelihood | ms | time × lifetimes |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
        *rows,
        "",
        f"Building the summaries with `clv_summary` (Polars): sample {summary_s * 1000:.0f} ms,"
        f" master {summary_m * 1000:.0f} ms ({master.height:,} lines).",
        "",
        "Log-likelihoods are summed over customers and evaluated by Regulars' functions at each"
        " package's parameters. Regulars collapses identical (x, t_x, T) rows into weights,"
        " evaluates the special functions once per distinct frequency, and minimises with"
        " BFGS on log-parameters with an analytic gradient; lifetimes differentiates with"
        " autograd, fits every row, and computes the Hessian after the fit.",
        "",
        "Target: the same parameters, and a fit no slower than lifetimes (ratio ≤ 1).",
        "",
    ]
    out += holdout(sample, sample_summary)
    if WARNINGS:
        out += ["Warnings lifetimes raised (silenced while timing):", ""]
        out += [f"- {w}" for w in sorted(WARNINGS)] + [""]
    return "\n".join(out)


def cpu() -> str:
    """The CPU's model name, where Linux tells it."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    load = os.getloadavg()[0]
    section = run()
    header = (
        f"# Analytics: CLV fit\n\nRun {date.today().isoformat()} on {platform.node()}"
        f" ({platform.machine()}, {cpu()}, {os.cpu_count()} CPUs) with"
        f" `{' '.join(['.venv/bin/python', *sys.argv])}`; load average at the start"
        f" {load:.1f} (the machine is shared; compare the ratios, which come"
        f" from one run).\n\n"
    )
    write_section(ROOT / "benchmarks" / "results" / "analytics.md", "clv_fit.py", header + section)
    print(header + section)
