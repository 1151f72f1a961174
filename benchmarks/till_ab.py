"""Till A/B: two versions of the code (or worker counts) served side by side, loaded in turns.

On this shared 2-core machine the speed of the host drifts by tens of per cent within
minutes, and runs of ``ingest.py`` one after the other (even the CPU time per receipt)
move with it. Here both versions run at once, each on its own copy of the same prepared
PostgreSQL database: ``regulars serve --workers N`` of a baseline source tree and of this
tree. The lean load generator of ``ingest.py`` sends chunk 1 to one server, then chunk 1's
twin to the other, then chunk 2 the other way round (A B B A …), so drift falls on both
alike; each pair of chunks gives one after ÷ before ratio, and the report shows their
median and range beside the totals.

    git archive HEAD src | tar -x -C /tmp/base        # the code to compare against
    .venv/bin/python benchmarks/till_ab.py --baseline /tmp/base
    .venv/bin/python benchmarks/till_ab.py --baseline-workers 2 --workers 3   # this tree twice

Writes ``benchmarks/results/till_ab.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ingest import (
    DEFAULT_PG,
    CpuProbe,
    Databases,
    Line,
    _raw_phase,
    machine,
    pg_version,
    prepare,
    read_basket_sizes,
    read_lines,
    receipt,
    start_server,
    stop_server,
)

RESULTS = Path(__file__).resolve().parent / "results" / "till_ab.md"


def _chunks(
    data: tuple[list[Line], list[int]], count: int, size: int, keys: list[str], seed: str
) -> list[list[list[str]]]:
    """``count`` chunks of ``size`` receipts drawn from ``data`` (lines, basket sizes), each
    as (till key, JSON body) pairs; receipt numbers start with ``seed``, so chunks of
    different seeds never replay each other."""
    lines, sizes = data
    rng = random.Random(seed)
    chunks = []
    for c in range(count):
        bodies = [receipt(n, f"{seed}{c:03d}", lines, sizes, rng) for n in range(size)]
        chunks.append([[keys[n % len(keys)], json.dumps(b)] for n, b in enumerate(bodies)])
    return chunks


def run(args: argparse.Namespace) -> str:
    """Serve both versions, load them in alternating chunks, return the markdown report."""
    os.environ.setdefault("REGULARS_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    data = read_lines(), read_basket_sizes()
    with tempfile.TemporaryDirectory(prefix="regulars-ab-") as tmp:
        workdir = Path(tmp)
        databases = Databases(workdir, args.pg_url)
        try:
            template = databases.template("postgresql")
            keys = prepare(template, {line.product_id for line in data[0]})
            tills = [keys[t] for t in sorted(keys)]
            urls = {"before": databases.copy(template), "after": databases.copy(template)}
            servers = {
                "before": start_server(
                    urls["before"], args.baseline_workers, workdir / "vb", args.baseline
                ),
                "after": start_server(urls["after"], args.workers, workdir / "va"),
            }
            try:
                probes = {
                    name: CpuProbe(proc.pid, urls[name]) for name, (proc, _) in servers.items()
                }
                warm = _chunks(data, 2, args.warmup, tills, "W")
                for name, (_proc, base_url) in servers.items():
                    for chunk in warm:
                        asyncio.run(_raw_phase(base_url, chunk, args.clients, probes[name]))
                figures: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
                for n, chunk in enumerate(_chunks(data, args.pairs, args.chunk, tills, "M")):
                    order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
                    for name in order:
                        load = _raw_phase(servers[name][1], chunk, args.clients, probes[name])
                        result = asyncio.run(load)
                        figures[name].append(result)
                    print(
                        f"pair {n + 1}: "
                        + ", ".join(
                            f"{k} {figures[k][-1]['per_second']:.0f}/s "
                            f"{figures[k][-1]['server_cpu_ms']:.2f}+"
                            f"{figures[k][-1]['database_cpu_ms']:.2f} ms"
                            for k in ("before", "after")
                        ),
                        file=sys.stderr,
                    )
            finally:
                for proc, _ in servers.values():
                    stop_server(proc)
        finally:
            databases.drop_all()
    return report(figures, args)


def report(figures: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    """The markdown: per version totals, per pair ratios."""
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    baseline = " --baseline DIR" if args.baseline else ""
    before = f"before: {'DIR' if args.baseline else 'this tree'}, N = {args.baseline_workers}"
    after = f"after: this tree, N = {args.workers}"
    load = os.getloadavg()

    def total(name: str, key: str) -> float:
        return sum(f[key] for f in figures[name])

    def statuses_ok(name: str) -> bool:
        return all(set(f["statuses"]) == {"201"} for f in figures[name])

    rows = []
    for name in ("before", "after"):
        count = total(name, "requests")
        rows.append(
            f"| {name} | {count / total(name, 'seconds'):.0f} "
            f"| {statistics.median(f['p50_ms'] for f in figures[name]):.1f} "
            f"| {statistics.median(f['p99_ms'] for f in figures[name]):.1f} "
            f"| {sum(f['server_cpu_ms'] * f['requests'] for f in figures[name]) / count:.2f} "
            f"| {sum(f['database_cpu_ms'] * f['requests'] for f in figures[name]) / count:.2f} "
            f"| {'yes' if statuses_ok(name) else 'NO'} |"
        )

    def ratios(key: str) -> str:
        values = sorted(
            a[key] / b[key] for a, b in zip(figures["after"], figures["before"], strict=True)
        )
        return f"{statistics.median(values):.2f} ({values[0]:.2f}–{values[-1]:.2f})"

    return "\n".join(
        [
            "# Till A/B",
            "",
            f"Measured {now} on {machine()}; PostgreSQL {pg_version(args.pg_url)}."
            f" Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
            "",
            f"Reproduce: `.venv/bin/python benchmarks/till_ab.py{baseline} --pairs"
            f" {args.pairs} --chunk {args.chunk} --baseline-workers {args.baseline_workers}"
            f" --workers {args.workers}` (PostgreSQL at 127.0.0.1:5432).",
            "",
            f"Both served at once by `regulars serve --workers N` ({before})"
            f" and ({after}), each on its own copy of one prepared database (1 store,"
            " 8 tills, the sample's products, 500 members); the lean load generator of"
            " `ingest.py` with"
            f" {args.clients} connections sends {args.pairs} chunks of {args.chunk} receipts"
            " to each, alternating which goes first (A B B A …), so the host's drifting speed"
            " falls on both alike. CPU is the server's processes' and PostgreSQL's per"
            " receipt.",
            "",
            "| code | receipts/s | median p50 ms | median p99 ms | server CPU ms"
            " | database CPU ms | all 201 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            *rows,
            "",
            "| after ÷ before, per pair of chunks | median (range) |",
            "| --- | ---: |",
            f"| receipts/s | {ratios('per_second')} |",
            f"| server CPU per receipt | {ratios('server_cpu_ms')} |",
            f"| database CPU per receipt | {ratios('database_cpu_ms')} |",
            "",
        ]
    )


def main() -> None:
    """Parse the arguments, run, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="source tree to compare (default: this tree)")
    parser.add_argument("--baseline-workers", type=int, help="default: --workers")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.baseline = args.baseline.resolve() if args.baseline else None
    if args.baseline_workers is None:
        args.baseline_workers = args.workers
    text = run(args)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
