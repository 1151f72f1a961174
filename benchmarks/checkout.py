"""Checkout with loyalty: receipts per second with earning and redemption vs receipts alone.

One server per database (``regulars serve``, one worker) on a fresh copy of a prepared
database, loaded from a separate client process (``ingest.py --load``, eight concurrent
keep-alive connections). Each run alternates phases of the same baskets: *alone* (no
member: nothing touches loyalty) and *loyalty* (every receipt with a member card, earning
points, every second one redeeming part of the balance), twice each, so drift hits both.
The ledger is checked afterwards: every account equals the sum of its lines.

    .venv/bin/python benchmarks/checkout.py          # writes benchmarks/results/checkout.md
    .venv/bin/python benchmarks/checkout.py --skip-postgres --receipts 300   # a quick look
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import ingest
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.loyalty import programme, queries, service
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.schemas import ProgrammeUpdate
from regulars.members.models import Member

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "checkout.md"
OPENING = 1_000_000  # points granted to each member so redemptions never run dry
TARGET = 0.30  # loyalty may cost at most this share of the till's throughput


def prepare(url: str, product_ids: set[int]) -> dict[str, str]:
    """The ingest benchmark's store, tills, products and members, plus opening balances."""
    keys = ingest.prepare(url, product_ids)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        programme.programme_update(uow, data=ProgrammeUpdate(pending_days=7, min_redemption=0))
        members = list(uow.session.scalars(select(Member.id)))
        service.points_grant_many(
            uow, grants=[(m, OPENING) for m in members], reason="benchmark", actor="bench"
        )
        uow.commit()
    engine.dispose()
    return keys


def bodies(
    prefix: str, count: int, data: tuple[list[ingest.Line], list[int]], loyalty: bool, seed: str
) -> list[dict[str, Any]]:
    """Receipts of the sample's baskets; with a member (and every second a redemption) or not."""
    rng = random.Random(seed)  # the same seed gives the same baskets for both kinds
    out = []
    for n in range(count):
        body = ingest.receipt(n, prefix, data[0], data[1], rng)
        member = rng.randrange(ingest.MEMBERS)
        body.pop("member", None)
        if loyalty:
            body["member"] = {"card_no": ingest.card_no(member)}
            if n % 2 == 0:
                worth = int(Decimal(body["total"]) * 100)
                body["redeem_points"] = max(1, min(500, worth))
        out.append(body)
    return out


def run_one(
    kind: str,
    url: str,
    keys: dict[str, str],
    data: tuple[list[ingest.Line], list[int]],
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    """Serve ``url`` and send the alternating phases from a client process."""
    tills = sorted(keys)

    def requests(items: list[dict[str, Any]]) -> list[list[str]]:
        return [[keys[tills[n % len(tills)]], json.dumps(b)] for n, b in enumerate(items)]

    half = args.receipts // 2
    phases = {
        "warm-up": requests(bodies("W", args.warmup, data, True, f"{kind}-w")),
        "alone-1": requests(bodies("A1", half, data, False, f"{kind}-1")),
        "loyalty-1": requests(bodies("L1", half, data, True, f"{kind}-1")),
        "alone-2": requests(bodies("A2", half, data, False, f"{kind}-2")),
        "loyalty-2": requests(bodies("L2", half, data, True, f"{kind}-2")),
    }
    jobs = workdir / f"checkout-{kind}.json"
    jobs.write_text(json.dumps(phases))
    proc, base_url = ingest.start_server(url, args.workers, workdir / "var")
    try:
        client = [sys.executable, ingest.__file__, "--load", base_url, str(jobs)]
        client += ["--clients", str(args.clients)]
        done = subprocess.run(client, check=True, capture_output=True, text=True)
    finally:
        ingest.stop_server(proc)
    result: dict[str, Any] = json.loads(done.stdout)
    result["ledger"] = ledger_ok(url)
    return result


def ledger_ok(url: str) -> str:
    """Every account equals its ledger (checked in full for a sample of members)."""
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            sums = dict(
                uow.session.execute(
                    select(PointsLine.member_id, func.sum(PointsLine.points)).group_by(
                        PointsLine.member_id
                    )
                ).all()
            )
            accounts = list(uow.session.scalars(select(PointsAccount)))
            wrong = [a.member_id for a in accounts if sums.get(a.member_id, 0) != a.balance]
            for account in accounts[:25]:
                wrong += (
                    [account.member_id]
                    if queries.ledger_check(uow.session, member_id=account.member_id)
                    else []
                )
            return "yes" if not wrong else f"NO: {sorted(set(wrong))[:10]}"
    finally:
        engine.dispose()


def rate(result: dict[str, Any], name: str) -> float:
    """Receipts per second of the two phases of one kind together."""
    phases = [result[f"{name}-1"], result[f"{name}-2"]]
    return sum(p["requests"] for p in phases) / sum(p["seconds"] for p in phases)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    """The results as markdown."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Checkout with loyalty",
        "",
        f"Measured {now} on {ingest.machine()}; PostgreSQL {ingest.pg_version(args.pg_url)}.",
        "",
        "Reproduce: `.venv/bin/python benchmarks/checkout.py"
        + (f" --receipts {args.receipts}" if args.receipts != 3000 else "")
        + "` (PostgreSQL at 127.0.0.1:5432, trust auth).",
        "",
        f"`POST /api/v1/receipts` from {args.clients} concurrent connections of one client "
        f"process to `regulars serve --workers {args.workers}`, on the ingest benchmark's "
        f"database ({ingest.TERMINALS} tills, the Complete Journey sample's products, "
        f"{ingest.MEMBERS} members each holding {OPENING:,} opening points). The same baskets "
        "(FIMI basket sizes, Complete Journey lines) are sent as *alone* (no member: the "
        "till without loyalty) and as *loyalty* (every receipt with a member card: account "
        "lock, earning with tier and multipliers, pending lot; every second receipt also "
        "redeems up to 500 points first-in first-out), alternating phases "
        f"(alone, loyalty, alone, loyalty; {args.receipts // 2} receipts each) in one run.",
        "",
        "| database | alone receipts/s | loyalty receipts/s | loyalty ÷ alone | cost of loyalty "
        "| alone p50 ms | loyalty p50 ms | loyalty p99 ms | target (< 30 %) | statuses "
        "| ledger = balance |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for kind, result in results.items():
        alone, loyal = rate(result, "alone"), rate(result, "loyalty")
        cost = 1 - loyal / alone
        statuses: dict[str, int] = {}
        for name in ("alone-1", "alone-2", "loyalty-1", "loyalty-2"):
            for status, n in result[name]["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
        p50a = (result["alone-1"]["p50_ms"] + result["alone-2"]["p50_ms"]) / 2
        p50l = (result["loyalty-1"]["p50_ms"] + result["loyalty-2"]["p50_ms"]) / 2
        p99l = max(result["loyalty-1"]["p99_ms"], result["loyalty-2"]["p99_ms"])
        out.append(
            f"| {kind} | {alone:.0f} | {loyal:.0f} | {loyal / alone:.2f} | {cost:.0%} "
            f"| {p50a:.1f} | {p50l:.1f} | {p99l:.1f} | {'met' if cost < TARGET else 'MISSED'} "
            f"| {json.dumps(statuses)} | {result['ledger']} |"
        )
    out += [
        "",
        "*Cost of loyalty* is 1 − loyalty ÷ alone: the share of the till's throughput that "
        "earning and redeeming take. Figures depend on the machine; compare the ratio.",
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    """Parse the arguments; run each database; write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=3000, help="measured, both kinds")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg-url", default=ingest.DEFAULT_PG)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.skip_postgres:
        args.pg_url = None
    os.environ.setdefault("REGULARS_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    data = (ingest.read_lines(), ingest.read_basket_sizes())
    product_ids = {line.product_id for line in data[0]}
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="regulars-checkout-") as tmp:
        workdir = Path(tmp)
        databases = ingest.Databases(workdir, args.pg_url)
        try:
            for kind in ("sqlite", "postgresql") if args.pg_url else ("sqlite",):
                began = time.perf_counter()
                template = databases.template(kind)
                keys = prepare(template, product_ids)
                print(f"{kind}: prepared in {time.perf_counter() - began:.0f} s", file=sys.stderr)
                results[kind] = run_one(kind, databases.copy(template), keys, data, args, workdir)
                print(
                    f"{kind}: alone {rate(results[kind], 'alone'):.0f}/s, "
                    f"loyalty {rate(results[kind], 'loyalty'):.0f}/s",
                    file=sys.stderr,
                )
        finally:
            databases.drop_all()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, args))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
