"""Checkout with loyalty: receipts per second with earning and redemption vs receipts alone.

One server per database (``regulars serve``, one worker) on a fresh copy of a prepared
database, loaded from a separate client process (``ingest.py --load``, eight concurrent
keep-alive connections). Each run alternates phases of the same baskets: *alone* (no
member: nothing touches loyalty) and *loyalty* (every receipt with a member card, earning
points, every second one redeeming part of the balance), twice each, so drift hits both.
The ledger is checked afterwards: every account equals the sum of its lines.

``--baseline DIR`` also serves an earlier version of the code (a source tree, e.g. made by
``git archive``) on another copy of the same database in the same run, so a change is
measured against what it replaces under the same conditions. For each version the SQL
statements of one receipt of each kind are counted in a separate process (by table), to
show where the time of the loyalty phase goes.

    .venv/bin/python benchmarks/checkout.py          # writes benchmarks/results/checkout.md
    .venv/bin/python benchmarks/checkout.py --skip-postgres --receipts 300   # a quick look
    git archive HEAD | tar -x -C /tmp/base && \
        .venv/bin/python benchmarks/checkout.py --baseline /tmp/base   # before and after
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update

import ingest
from regulars.catalog.models import Store, Terminal
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.loyalty import programme, queries, service
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.schemas import ProgrammeUpdate
from regulars.members.models import Member
from regulars.sales import service as sales_service
from regulars.sales.schemas import ReceiptIn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "checkout.md"
OPENING = 1_000_000  # points granted to each member so redemptions never run dry
FIRST_PURCHASE = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)  # a year before the receipts
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
        # Established members: their first purchase lies before the benchmark's receipts,
        # as a regular's does (a member's first receipt ever moves it, once in a lifetime).
        uow.session.execute(update(Member).values(first_purchase_at=FIRST_PURCHASE))
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


def source_env(source: Path | None) -> dict[str, str]:
    """The environment that makes a subprocess import ``regulars`` from ``source`` (or ours)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    return env


def run_one(
    kind: str,
    url: str,
    keys: dict[str, str],
    data: tuple[list[ingest.Line], list[int]],
    args: argparse.Namespace,
    workdir: Path,
    source: Path | None = None,
) -> dict[str, Any]:
    """Serve ``url`` (with the code of ``source``, else this tree's) and send the phases."""
    tills = sorted(keys)

    def requests(items: list[dict[str, Any]]) -> list[list[str]]:
        return [[keys[tills[n % len(tills)]], json.dumps(b)] for n, b in enumerate(items)]

    each = args.receipts // (2 * args.pairs)
    phases = {"warm-up": requests(bodies("W", args.warmup, data, True, f"{kind}-w"))}
    for n in range(1, args.pairs + 1):
        phases[f"alone-{n}"] = requests(bodies(f"A{n}", each, data, False, f"{kind}-{n}"))
        phases[f"loyalty-{n}"] = requests(bodies(f"L{n}", each, data, True, f"{kind}-{n}"))
    jobs = workdir / f"checkout-{kind}.json"
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(source_env(source))  # the server subprocess inherits it
    try:
        proc, base_url = ingest.start_server(url, args.workers, workdir / "var")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        # The client reads the server's and PostgreSQL's CPU time around each phase.
        meta = {"server_session": proc.pid, "database_url": url}
        jobs.write_text(json.dumps({"_meta": meta, **phases}))
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


def _outer_from(text: str) -> str:
    """The first table after a FROM outside parentheses (not a scalar subquery's)."""
    depth = 0
    for at, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0 and text.startswith(" FROM ", at):
            return text[at + 6 :].split(" ", 1)[0].strip()
    return "?"


def _statement_kind(sql: str) -> str:
    """``verb table`` of a statement; a data-modifying CTE names its parts (``WITH …``)."""
    text = " ".join(sql.split())
    if text.startswith("WITH "):
        inner = re.findall(r"AS \((INSERT INTO|UPDATE) (\w+)", text)
        main = re.findall(r"\) (UPDATE|INSERT INTO|SELECT) (\w+)", text)
        parts = [f"{v.split()[0].lower()} {t}" for v, t in inner]
        last = f"{main[-1][0].split()[0].lower()} {main[-1][1]}" if main else "?"
        return f"{last} with {' + '.join(parts)}"
    verb = text.split(" ", 1)[0].upper()
    if verb == "SELECT":
        table = _outer_from(text)
        return f"select {table}" if table != "?" else "select (scalar subqueries only)"
    found = re.match(r"(INSERT INTO|UPDATE|DELETE FROM) (\w+)", text)
    return f"{found.group(1).split()[0].lower()} {found.group(2)}" if found else verb.lower()


def statements_main(url: str, bodies_file: Path) -> None:
    """In-process, one receipt at a time: SQL statements per receipt of each kind, by table,
    and the time and statements spent in loyalty's own calls.

    Run as a subprocess (``--statements``) so that ``--baseline`` code can be counted too.
    Loyalty's own part is what ``sales.service`` calls for it: ``loyalty.receipt_points``
    and storing its part of the answer (``_store_points``), or (where the code has it)
    ``loyalty.receipt_plan``, whose writes then ride in the receipt's own statement.
    """
    engine = make_engine(url)
    factory = make_session_factory(engine)
    seen: Counter[str] = Counter()
    own = {"seconds": 0.0, "statements": 0, "inside": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*args: Any) -> None:
        seen[_statement_kind(args[2])] += 1
        own["statements"] += 1 if own["inside"] else 0

    def timed(function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            own["inside"] += 1
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                own["seconds"] += time.perf_counter() - began
                own["inside"] -= 1

        return call

    sales_service.loyalty.receipt_points = timed(sales_service.loyalty.receipt_points)
    sales_service._store_points = timed(sales_service._store_points)
    # Later code works a member's points out before the receipt's insert, which writes them.
    if hasattr(sales_service.loyalty, "receipt_plan"):
        sales_service.loyalty.receipt_plan = timed(sales_service.loyalty.receipt_plan)
    # And on SQLite writes them after the receipt's insert.
    if hasattr(sales_service.loyalty, "plan_write"):
        sales_service.loyalty.plan_write = timed(sales_service.loyalty.plan_write)
    with UnitOfWork(factory) as uow:
        store_id = uow.session.scalars(select(Store.id)).first()
        terminal_id = uow.session.scalars(select(Terminal.id)).first()
    out: dict[str, Any] = {}
    for name, bodies in json.loads(bodies_file.read_text()).items():
        seen.clear()
        own.update(seconds=0.0, statements=0)
        began = time.perf_counter()
        for body in bodies:
            with UnitOfWork(factory) as uow:
                store = uow.session.get(Store, store_id)
                terminal = uow.session.get(Terminal, terminal_id)
                assert store is not None and terminal is not None
                sales_service.receipt_record(
                    uow, store=store, terminal=terminal, data=ReceiptIn.model_validate(body)
                )
                uow.commit()
        seconds = time.perf_counter() - began
        out[name] = {
            "ms": 1000 * seconds / len(bodies),
            "own_ms": 1000 * own["seconds"] / len(bodies),
            "own_statements": own["statements"] / len(bodies),
            "statements": {k: v / len(bodies) for k, v in seen.most_common()},
        }
    engine.dispose()
    print(json.dumps(out))


def count_statements(
    url: str, data: tuple[list[ingest.Line], list[int]], workdir: Path, source: Path | None
) -> dict[str, Any]:
    """Statements per receipt of each kind, counted by a subprocess with ``source``'s code."""
    kinds = {
        "alone": bodies("SA", 200, data, False, "statements"),
        "loyalty": bodies("SL", 200, data, True, "statements"),
    }
    path = workdir / "statement-bodies.json"
    path.write_text(json.dumps(kinds))
    done = subprocess.run(
        [sys.executable, __file__, "--statements", url, str(path)],
        capture_output=True,
        text=True,
        env=source_env(source),
    )
    if done.returncode != 0:
        raise RuntimeError(f"counting statements failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _phases(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The measured phases of one kind (``alone`` or ``loyalty``), in the order sent."""
    return [result[key] for key in result if key.startswith(f"{name}-")]


def pair_costs(result: dict[str, Any]) -> list[float]:
    """The cost of loyalty in each pair of neighbouring phases (alone, then loyalty)."""
    return [
        1 - loyal["per_second"] / alone["per_second"]
        for alone, loyal in zip(_phases(result, "alone"), _phases(result, "loyalty"), strict=True)
    ]


def rate(result: dict[str, Any], name: str) -> float:
    """Receipts per second of the phases of one kind together."""
    phases = _phases(result, name)
    return sum(p["requests"] for p in phases) / sum(p["seconds"] for p in phases)


def cpu(result: dict[str, Any], name: str, part: str) -> float:
    """CPU milliseconds per receipt of ``part`` (server, database, client) in one kind's phases."""
    phases = _phases(result, name)
    count = sum(p["requests"] for p in phases)
    if part == "client":
        return 1000 * sum(p["client_cpu_seconds"] for p in phases) / count
    return sum(p[f"{part}_cpu_ms"] * p["requests"] for p in phases) / count


def report(
    results: dict[str, dict[str, Any]],
    statements: dict[str, list[dict[str, Any]]],
    args: argparse.Namespace,
) -> str:
    """The results as markdown."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    out = [
        "# Checkout with loyalty",
        "",
        f"Measured {now} on {ingest.machine()}; PostgreSQL {ingest.pg_version(args.pg_url)}. "
        f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 "
        "min; other processes shared the machine if above about 1).",
        "",
        "Reproduce: `.venv/bin/python benchmarks/checkout.py"
        + (f" --receipts {args.receipts}" if args.receipts != 3000 else "")
        + (f" --pairs {args.pairs}" if args.pairs != 6 else "")
        + (" --baseline DIR" if args.baseline else "")
        + (f" --rounds {args.rounds}" if args.rounds != 1 else "")
        + "` (PostgreSQL at 127.0.0.1:5432, trust auth"
        + ("; DIR a `git archive` of the code before the change" if args.baseline else "")
        + ").",
        "",
        f"`POST /api/v1/receipts` from {args.clients} concurrent connections of one client "
        f"process to `regulars serve --workers {args.workers}`, on the ingest benchmark's "
        f"database ({ingest.TERMINALS} tills, the Complete Journey sample's products, "
        f"{ingest.MEMBERS} established members, each holding {OPENING:,} opening points, "
        f"first purchase {FIRST_PURCHASE:%Y-%m-%d}). The same baskets "
        "(FIMI basket sizes, Complete Journey lines) are sent as *alone* (no member: the "
        "till without loyalty) and as *loyalty* (every receipt with a member card: account "
        "lock, earning with tier and multipliers, pending lot; every second receipt also "
        "redeems up to 500 points first-in first-out), alternating phases "
        f"({args.pairs} pairs of alone then loyalty, {args.receipts // (2 * args.pairs)} "
        "receipts each) in one run: the machine's speed drifts, and short alternating "
        "phases let the drift hit both kinds alike. *Cost in each pair* is the range of "
        "the cost measured pair by pair. *Cost by CPU* is 1 − (CPU time of an alone "
        "receipt ÷ CPU time of a loyalty receipt), server, PostgreSQL and client together: "
        "on two shared cores the CPU each receipt takes bounds the rate, and it moves less "
        "with the machine's speed than the rate does.",
        "",
        "| database | code | alone receipts/s | loyalty receipts/s | loyalty ÷ alone "
        "| cost of loyalty | cost in each pair | cost by CPU | CPU ms per receipt, alone → loyalty "
        "(server / database / client) | alone p50 ms | loyalty p50 ms | loyalty p99 ms "
        "| target (< 30 %) | statuses | ledger = balance |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- "
        "| --- | --- |",
    ]
    for name, result in results.items():
        kind, _sep, code = name.partition(" ")
        alone, loyal = rate(result, "alone"), rate(result, "loyalty")
        cost = 1 - loyal / alone
        statuses: dict[str, int] = {}
        for phase in (*_phases(result, "alone"), *_phases(result, "loyalty")):
            for status, n in phase["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
        p50a = statistics.median(p["p50_ms"] for p in _phases(result, "alone"))
        p50l = statistics.median(p["p50_ms"] for p in _phases(result, "loyalty"))
        p99l = max(p["p99_ms"] for p in _phases(result, "loyalty"))
        pairs = pair_costs(result)
        parts = ("server", "database", "client")
        cpu_cost = 1 - sum(cpu(result, "alone", p) for p in parts) / sum(
            cpu(result, "loyalty", p) for p in parts
        )
        cpu_parts = " / ".join(
            f"{cpu(result, 'alone', part):.2f} → {cpu(result, 'loyalty', part):.2f}"
            for part in ("server", "database", "client")
        )
        out.append(
            f"| {kind} | {code or 'this tree'} | {alone:.0f} | {loyal:.0f} | {loyal / alone:.2f} "
            f"| {cost:.0%} | {min(pairs):.0%}–{max(pairs):.0%} | {cpu_cost:.0%} | {cpu_parts} "
            f"| {p50a:.1f} | {p50l:.1f} | {p99l:.1f} "
            f"| {'met' if cost < TARGET else 'MISSED'} | {json.dumps(statuses)} "
            f"| {result['ledger']} |"
        )
    out += [
        "",
        "*Cost of loyalty* is 1 − loyalty ÷ alone: the share of the till's throughput that "
        "a member's receipt costs over an anonymous one. Figures depend on the machine; "
        "compare the ratio.",
    ]
    if statements:
        out += [
            "",
            "## In process: time and statements per receipt",
            "",
            "Each version in its own process, one receipt at a time (no HTTP, no concurrency), "
            f"200 receipts of each kind on a fresh copy of the same database, {args.rounds} "
            "round(s) alternating the versions; medians over the rounds. *Loyalty's own* is "
            "the time and statements inside what the sales service calls for loyalty "
            "(`receipt_points` and storing its part of the answer on the receipt, or "
            "`receipt_plan`, which works the points out before the receipt's insert, and "
            "`plan_write`, which writes them after it on SQLite; on PostgreSQL the insert "
            "itself writes them, and its time is not counted here); the "
            "rest of a member's receipt (identifying the member, the personal-list check, the "
            "first purchase date) belongs to other domains.",
            "",
            "| database | code | alone ms | member ms | loyalty's own ms | loyalty's own ÷ alone "
            "| alone statements | member statements | loyalty's own statements |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, rounds in statements.items():
            kind, _sep, code = name.partition(" ")

            def median(phase: str, key: str, rounds: list[dict[str, Any]] = rounds) -> float:
                return float(statistics.median(r[phase][key] for r in rounds))

            alone_ms, member_ms = median("alone", "ms"), median("loyalty", "ms")
            own_ms = median("loyalty", "own_ms")
            first = rounds[0]
            out.append(
                f"| {kind} | {code or 'this tree'} | {alone_ms:.1f} | {member_ms:.1f} "
                f"| {own_ms:.1f} | {own_ms / alone_ms:.2f} "
                f"| {sum(first['alone']['statements'].values()):.1f} "
                f"| {sum(first['loyalty']['statements'].values()):.1f} "
                f"| {first['loyalty']['own_statements']:.1f} |"
            )
        out += [
            "",
            "Statements per receipt by table (first round; a data-modifying CTE is one "
            "statement: *update x with insert y* is one round trip):",
        ]
        for name, rounds in statements.items():
            counted = rounds[0]
            kinds = sorted(
                set(counted["alone"]["statements"]) | set(counted["loyalty"]["statements"])
            )
            out += [
                "",
                f"**{name}**",
                "",
                "| statement | alone | member |",
                "| --- | ---: | ---: |",
            ]
            for statement in kinds:
                a = counted["alone"]["statements"].get(statement, 0)
                b = counted["loyalty"]["statements"].get(statement, 0)
                out.append(f"| `{statement}` | {a:.2f} | {b:.2f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    """Parse the arguments; run each database (and code version); write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=3000, help="measured, both kinds")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=6, help="alone/loyalty phase pairs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg-url", default=ingest.DEFAULT_PG)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--baseline", type=Path, help="source tree of the code to compare")
    parser.add_argument("--rounds", type=int, default=1, help="in-process counts per version")
    parser.add_argument(
        "--in-process-only", action="store_true", help="only the in-process counts and times"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--statements", nargs=2, metavar=("URL", "BODIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.statements:
        statements_main(args.statements[0], Path(args.statements[1]))
        return
    if args.skip_postgres:
        args.pg_url = None
    os.environ.setdefault("REGULARS_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    data = (ingest.read_lines(), ingest.read_basket_sizes())
    product_ids = {line.product_id for line in data[0]}
    results: dict[str, dict[str, Any]] = {}
    statements: dict[str, list[dict[str, Any]]] = {}
    versions: list[tuple[str, Path | None]] = [("", None)]
    if args.baseline:
        versions = [("(before)", args.baseline.resolve()), ("(after)", None)]
    with tempfile.TemporaryDirectory(prefix="regulars-checkout-") as tmp:
        workdir = Path(tmp)
        databases = ingest.Databases(workdir, args.pg_url)
        try:
            kinds = ["sqlite", "postgresql"] if args.pg_url else ["sqlite"]
            for kind in [k for k in kinds if not (k == "sqlite" and args.skip_sqlite)]:
                began = time.perf_counter()
                template = databases.template(kind)
                keys = prepare(template, product_ids)
                print(f"{kind}: prepared in {time.perf_counter() - began:.0f} s", file=sys.stderr)
                for label, source in versions:
                    if args.in_process_only:
                        break
                    name = f"{kind} {label}".strip()
                    url = databases.copy(template)
                    results[name] = run_one(kind, url, keys, data, args, workdir, source)
                    print(
                        f"{name}: alone {rate(results[name], 'alone'):.0f}/s, "
                        f"loyalty {rate(results[name], 'loyalty'):.0f}/s; CPU ms per receipt "
                        + ", ".join(
                            f"{kind_}: "
                            + " / ".join(
                                f"{cpu(results[name], kind_, c):.2f}"
                                for c in ("server", "database", "client")
                            )
                            for kind_ in ("alone", "loyalty")
                        )
                        + " (server / database / client)",
                        file=sys.stderr,
                    )
                # Rounds alternate the versions, so drift in the machine's load hits both.
                for _round in range(args.rounds):
                    for label, source in versions:
                        name = f"{kind} {label}".strip()
                        counted = count_statements(databases.copy(template), data, workdir, source)
                        statements.setdefault(name, []).append(counted)
                        print(
                            f"{name}: in process, loyalty's own "
                            f"{counted['loyalty']['own_ms']:.1f} ms per receipt",
                            file=sys.stderr,
                        )
        finally:
            databases.drop_all()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, statements, args))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
