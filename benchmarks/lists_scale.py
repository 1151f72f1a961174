"""Personal lists at scale: predicted needs → best deal → each member's list, local vs Spark.

Generates purchase histories for ``--members`` members (``regulars.analytics.generate``,
calibrated on Complete Journey; ``--lines`` lines of receipts over the period that many
members take to make them) and a cycle's deals drawn from the generated catalogue, writes
them to Parquet in a temporary directory, then builds every member's list on the local
engine (Polars) and on Spark ``local[2]``, each in its own child process:

1. the members' histories from their receipt lines (each engine reads the Parquet itself);
2. the repurchase model, fitted on the driver from the histories of a seeded sample of
   members read straight from Parquet (the same model in both children: fitting needs a few
   thousand members, see ``RepurchaseParams.learn_users``);
3. every member's 30 most likely needs (``RepurchaseModel.predict`` /
   ``spark_predictions``), matched with the deals and chosen into lists of 10 with a
   budget and at most 3 items per category (``build_lists`` / ``build_lists_spark``), as
   the cycle job does, but on frames.

The parent samples the resident memory of each child's whole process tree (the
interpreter, and for Spark its JVM and Python workers) and checks that both engines made
the same lists. ``python benchmarks/lists_scale.py`` writes its section of
``benchmarks/results/lists.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nightly import _memory, _tree
from regulars.analytics.engines.spark import spark_session
from regulars.analytics.engines.spark_lists import build_lists_spark
from regulars.analytics.engines.spark_repurchase import history_from_lines_spark, spark_predictions
from regulars.analytics.generate import generate_parquet
from regulars.analytics.list_building import ListRules, build_lists
from regulars.analytics.repurchase import RepurchaseModel, fit, history_from_lines
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "lists.md"
SEED = 2017
SAMPLE = 3000  # members whose histories the model is fitted on
NEEDS = 30  # predictions per member: three times the list length, as the cycle job asks
ENGINES = ("local", "spark")
RULES = ListRules(length=10, per_category=3, budget=20.0, store_discount=5.0)


def catalogue_and_deals(folder: Path, deals: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The catalogue to match on and a cycle's deals, drawn from the generated data.

    The shelf price is each product's median price per unit in the lines; a brand is a
    manufacturer (Complete Journey's brand column only says private label or national).
    Deals go, as a store plans them, to products in proportion to how much they sell: about
    60 % on single products, 15 % on a manufacturer's range, 25 % on a category; a third of
    them have a budget, some of it already spent.
    """
    lines = pl.scan_parquet(folder / "lines.parquet")
    prices = (
        lines.filter((pl.col("quantity") > 0) & (pl.col("amount") > 0))
        .group_by("product_id")
        .agg(
            (pl.col("amount") / pl.col("quantity")).median().round(2).alias("unit_price"),
            pl.len().alias("sold"),
        )
        .collect()
    )
    products = pl.read_parquet(folder / "products.parquet")
    catalogue = products.join(prices, on="product_id").select(
        pl.col("product_id").alias("item_id"),
        ("M" + pl.col("manufacturer_id").cast(pl.String)).alias("brand"),
        "category",
        "unit_price",
        "sold",
    )
    rng = np.random.default_rng(seed)
    weights = catalogue["sold"].to_numpy().astype(np.float64)
    weights /= weights.sum()
    rows: list[dict[str, Any]] = []
    for deal_id in range(1, deals + 1):
        pick = catalogue.row(int(rng.choice(catalogue.height, p=weights)), named=True)
        target = str(rng.choice(["product", "brand", "category"], p=[0.6, 0.15, 0.25]))
        value_of = {"product": str(pick["item_id"]), "brand": pick["brand"]}
        kind = str(rng.choice(["percent", "amount", "price", "bxgy"], p=[0.4, 0.25, 0.2, 0.15]))
        price = float(pick["unit_price"])
        value = {
            "percent": float(rng.choice([10, 15, 20, 25, 30])),
            "amount": round(max(0.1, price * float(rng.uniform(0.05, 0.3))), 2),
            "price": round(price * float(rng.uniform(0.7, 0.95)), 2),
            "bxgy": 0.0,
        }[kind]
        budget = float(rng.choice([50.0, 200.0, 1000.0])) if rng.random() < 1 / 3 else None
        rows.append(
            {
                "deal_id": deal_id,
                "target": target,
                "target_value": value_of.get(target, pick["category"]),
                "kind": kind,
                "value": value,
                "buy_qty": 2 if kind == "bxgy" else None,
                "get_qty": 1 if kind == "bxgy" else None,
                "budget_left": None if budget is None else budget * float(rng.uniform(0.2, 1.0)),
            }
        )
    deal_frame = pl.DataFrame(
        rows,
        schema={
            "deal_id": pl.Int64,
            "target": pl.String,
            "target_value": pl.String,
            "kind": pl.String,
            "value": pl.Float64,
            "buy_qty": pl.Int64,
            "get_qty": pl.Int64,
            "budget_left": pl.Float64,
        },
    )
    return catalogue.drop("sold"), deal_frame


def fitted(folder: Path) -> tuple[RepurchaseModel, int]:
    """The model both engines use, and the day the lists are for (after the last receipt)."""
    lines = pl.scan_parquet(folder / "lines.parquet")
    members = lines.select(pl.col("member_id").unique().sort()).collect()["member_id"]
    sample = members.sample(min(SAMPLE, members.len()), seed=SEED)
    sampled = lines.filter(pl.col("member_id").is_in(sample.implode())).collect()
    last = lines.select(pl.col("at").max()).collect().item()
    as_of = (last.date() - datetime(1970, 1, 1).date()).days + 1
    return fit(history_from_lines(sampled), as_of=as_of), as_of


def child(engine: str, folder: str, out: str) -> None:
    """Build every member's list on one engine; print the timings as JSON."""
    source = Path(folder)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    catalogue = pl.read_parquet(source / "catalogue.parquet")
    deals = pl.read_parquet(source / "deals.parquet")
    model, as_of = fitted(source)
    steps["fit"] = time.perf_counter() - started
    if engine == "local":
        mark = time.perf_counter()
        history = history_from_lines(pl.read_parquet(source / "lines.parquet"))
        steps["history"] = time.perf_counter() - mark
        mark = time.perf_counter()
        needs = model.predict(None, k=NEEDS, history=history, as_of=as_of)
        steps["predict"] = time.perf_counter() - mark
        mark = time.perf_counter()
        lists = build_lists(needs, catalogue, deals, RULES)
        steps["lists"] = time.perf_counter() - mark
        members = history["user_id"].n_unique()
    else:
        mark = time.perf_counter()
        session = spark_session("local[2]", app_name="regulars-lists-scale")
        steps["engine start"] = time.perf_counter() - mark
        mark = time.perf_counter()
        history = history_from_lines_spark(
            session.read.parquet(str(source / "lines.parquet"))
        ).cache()
        members = history.select("user_id").distinct().count()
        steps["history"] = time.perf_counter() - mark
        mark = time.perf_counter()
        with spark_predictions(session, model, history, NEEDS, as_of=as_of) as needs:
            lists = build_lists_spark(session, needs, catalogue, deals, RULES)
        # Spark runs prediction and list building as one job: they are timed together.
        steps["predict + lists"] = time.perf_counter() - mark
        history.unpersist()
        session.stop()
    lists.write_parquet(Path(out))
    report = {
        "steps": steps,
        "total_s": time.perf_counter() - started,
        "members": members,
        "lists": lists["user_id"].n_unique(),
        "items": lists.height,
    }
    print("RESULT " + json.dumps(report), flush=True)


def measure(engine: str, folder: Path, out: Path) -> dict[str, Any]:
    """Run one engine in a child process; its report, wall time and peak memory (MB)."""
    command = [sys.executable, __file__, "--child", engine, str(folder), str(out)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(_memory(pid)[0] for pid in _tree(process.pid)))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    found = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not found:
        tail = (stderr.strip().splitlines() or ["no output"])[-3:]
        return {"error": " | ".join(tail), "wall_s": wall, "peak_mb": peak / 2**20}
    report: dict[str, Any] = json.loads(found[-1][len("RESULT ") :])
    return report | {"wall_s": wall, "peak_mb": peak / 2**20}


def agreement(local: Path, spark: Path) -> str:
    """How far the two engines' lists agree (items, order, deal and discount; score 1e-9)."""
    keys = ["user_id", "position", "item_id", "deal_id", "discount_cents"]
    left = pl.read_parquet(local).sort("user_id", "position")
    right = pl.read_parquet(spark).sort("user_id", "position")
    if left.select(keys).equals(right.select(keys)):
        scores = np.allclose(left["score"].to_numpy(), right["score"].to_numpy(), rtol=1e-9)
        return "yes, every list item for item" + ("" if scores else " (scores differ > 1e-9)")
    same = (
        left.group_by("user_id")
        .agg(pl.col("item_id"))
        .join(right.group_by("user_id").agg(pl.col("item_id")), on="user_id", how="full")
        .select((pl.col("item_id") == pl.col("item_id_right")).fill_null(False).mean())
        .item()
    )
    return f"no: {same:.4%} of members have the same list"


def run(members: int, lines: int, deals: int, engines: tuple[str, ...] = ENGINES) -> str:
    """Generate the data, run both engines and return the markdown section."""
    load = os.getloadavg()
    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="regulars-lists-") as tmp:
        folder = Path(tmp)
        mark = time.perf_counter()
        generate_parquet(folder, lines, seed=SEED, members=members)
        catalogue, deal_frame = catalogue_and_deals(folder, deals, SEED)
        catalogue.write_parquet(folder / "catalogue.parquet")
        deal_frame.write_parquet(folder / "deals.parquet")
        made = time.perf_counter() - mark
        facts = (
            pl.scan_parquet(folder / "lines.parquet")
            .select(
                pl.col("member_id").n_unique().alias("members"),
                pl.col("receipt_id").n_unique().alias("receipts"),
                pl.col("at").min().alias("first"),
                pl.col("at").max().alias("last"),
            )
            .collect()
            .row(0, named=True)
        )
        results = {}
        for engine in engines:
            results[engine] = measure(engine, folder, folder / f"lists-{engine}.parquet")
            print(engine, json.dumps(results[engine]), file=sys.stderr)
        verdict = (
            agreement(folder / "lists-local.parquet", folder / "lists-spark.parquet")
            if len(results) == len(ENGINES) and all("error" not in r for r in results.values())
            else "not compared (a run failed)"
        )
    load_after = os.getloadavg()
    days = (facts["last"] - facts["first"]).days + 1
    out = [
        "# Personal lists at scale: list generation, local engine vs Spark",
        "",
        f"Measured {started_at:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Linux "
        f"{platform.release()}, Python {platform.python_version()}, Polars {pl.__version__}, "
        f"Spark `local[2]`. Load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} before, "
        f"{load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} after "
        "(a shared machine: compare engines, not seconds).",
        "",
        f"Reproduce: `.venv/bin/python benchmarks/lists_scale.py --members {members} "
        f"--lines {lines} --deals {deals}`.",
        "",
        f"Data: {members:,} generated members, {facts['members']:,} of whom shop in the "
        f"{days} days of {lines:,} lines in {facts['receipts']:,} receipts (generated in "
        f"{made:.0f} s, with the "
        f"catalogue and {deals} deals); lists of {RULES.length} items from each member's "
        f"{NEEDS} most likely needs, budget {RULES.budget:.0f} per member, at most "
        f"{RULES.per_category} per category, {RULES.store_discount:g} % store discount on "
        "needs without a deal.",
        "",
        "| engine | members | lists | items | fit s | history s | predict s | lists s "
        "| predict + lists s | whole child s | peak MB (process tree) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, report in results.items():
        if "error" in report:
            out.append(f"| {engine} | failed: {report['error']} | | | | | | | | | |")
            continue
        steps = report["steps"]
        both = steps.get("predict + lists", steps.get("predict", 0.0) + steps.get("lists", 0.0))
        cells = [f"{steps[name]:.1f}" if name in steps else "—" for name in ("predict", "lists")]
        out.append(
            f"| {engine} | {report['members']:,} | {report['lists']:,} | {report['items']:,} "
            f"| {steps['fit']:.1f} | {steps['history']:.1f} | {cells[0]} | {cells[1]} "
            f"| {both:.1f} | {report['wall_s']:.1f} | {report['peak_mb']:,.0f} |"
        )
    spark = results.get("spark", {})
    out += [
        "",
        f"- Same lists on both engines: {verdict}.",
        "- *fit* is the same code in both children: reading the lines of a seeded sample of "
        f"{SAMPLE:,} members from Parquet and fitting the model on the driver. *history* "
        "builds every member's basket sequence from the lines; Spark runs prediction and list "
        "building as one job (the needs are never collected), so they are timed together; "
        "*whole child* includes starting the interpreter"
        + (
            f" and the JVM ({spark['steps'].get('engine start', 0.0):.1f} s)"
            if "steps" in spark
            else ""
        )
        + ". Peak memory is the resident memory of the child's whole process tree (for Spark: "
        "driver, JVM and Python workers), sampled every 50 ms.",
        "- The catalogue and the deals are small, so Spark matches them on the driver with the "
        "local `item_offers` and broadcasts the result; the members' needs are joined to it "
        "and each member's list is chosen on the executors by the same `choose_mask` "
        "(`mapInArrow` over partitions holding whole members).",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, and write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=116_000)
    parser.add_argument("--lines", type=int, default=5_800_000)
    parser.add_argument("--deals", type=int, default=400)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--dry", action="store_true", help="print, do not write the results")
    parser.add_argument("--engines", nargs="+", default=["local", "spark"])
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "FOLDER", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    text = run(args.members, args.lines, args.deals, tuple(args.engines))
    print(text)
    if not args.dry:
        write_section(args.out, "lists_scale.py", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
