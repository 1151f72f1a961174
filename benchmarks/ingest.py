"""Till ingest: receipts per second and latency of ``POST /api/v1/receipts`` on a real server.

For each database (SQLite, PostgreSQL) and each uvicorn worker count, a fresh copy of a
prepared database is served by ``regulars serve`` in a subprocess, and a separate client
process sends receipts over loopback from eight concurrent connections: a warm-up, the
measured receipts, then every measured receipt again (replays, which must record nothing).
The database is checked afterwards: each receipt exactly once, with all its lines.

Receipts are realistic in size and content: basket sizes are those of the 88,162 whole
receipts of ``fimi-retail/retail.dat`` (the Complete Journey ``transactions_sample.csv``
is a sample of lines, so its baskets are fragments: 1.6 lines on average); products,
quantities, prices and discounts are lines of ``transactions_sample.csv``. Both files are
read in place from ``../shared/data``.

    .venv/bin/python benchmarks/ingest.py                  # writes benchmarks/results/ingest.md
    .venv/bin/python benchmarks/ingest.py --skip-postgres --receipts 500   # a quick look

Two load generators can drive the server (``--generators lean,httpx``): *lean* builds
every request as bytes before the clock starts, writes it on an asyncio stream and parses
the answer with httptools (a few per cent of a core; the benchmark of record), and httpx's
asyncio client, which takes about 40 % of one of the two cores the server needs.

The bulk-import comparison (``benchmarks/ingest_bulk.py``, ``run_bulk``) is appended
(``--skip-bulk`` leaves it out).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httptools
import httpx
from sqlalchemy import create_engine, func, make_url, select, text

from ingest_bulk import run_bulk
from regulars.catalog import service as catalog_service
from regulars.catalog.rules import barcode_check_digit
from regulars.catalog.schemas import ProductCreate, StoreCreate
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.context import db_upgrade
from regulars.members import service as member_service
from regulars.members.schemas import MemberCreate
from regulars.sales.models import Receipt, ReceiptLine

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TRANSACTIONS = DATA / "completejourney" / "csv" / "transactions_sample.csv"
WHOLE_RECEIPTS = DATA / "fimi-retail" / "retail.dat"
RESULTS = ROOT / "benchmarks" / "results" / "ingest.md"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET = 500  # receipts per second on PostgreSQL, from the issue
TERMINALS = 8
MEMBERS = 500
MEMBER_SHARE = 0.6  # share of receipts with a member card
CENT = Decimal("0.01")


# --- data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One sold line of the Complete Journey sample, as a till would send it."""

    product_id: int
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal

    @property
    def amount(self) -> Decimal:
        """What the customer paid for the line."""
        return (self.quantity * self.unit_price - self.discount).quantize(CENT)


def ean13(product_id: int) -> str:
    """A valid EAN-13 for a Complete Journey product id."""
    body = f"69{product_id:010d}"
    return body + barcode_check_digit(body)


def read_lines() -> list[Line]:
    """Sold lines of the sample; fuel (thousands of 'units') and zero-value lines left out."""
    lines = []
    with TRANSACTIONS.open(newline="") as handle:
        for row in csv.DictReader(handle):
            quantity = Decimal(row["quantity"])
            sales, retail_disc = Decimal(row["sales_value"]), Decimal(row["retail_disc"])
            if not (1 <= quantity <= 50) or sales <= 0:
                continue
            quantity = quantity.to_integral_value()
            unit_price = ((sales + retail_disc) / quantity).quantize(CENT)
            discount = min(retail_disc, quantity * unit_price).quantize(CENT)
            lines.append(Line(int(row["product_id"]), quantity, unit_price, discount))
    return lines


def read_basket_sizes() -> list[int]:
    """The number of items on each whole receipt of the FIMI retail data."""
    with WHOLE_RECEIPTS.open() as handle:
        return [min(len(line.split()), 500) for line in handle if line.strip()]


def card_no(n: int) -> str:
    """Card number of benchmark member ``n``."""
    return f"B{n:07d}"


def receipt(
    n: int, prefix: str, lines: list[Line], sizes: list[int], rng: random.Random
) -> dict[str, Any]:
    """Receipt ``prefix-n`` with a basket size and lines drawn from the data."""
    picked = rng.sample(lines, rng.choice(sizes))
    total = sum((line.amount for line in picked), Decimal("0"))
    body: dict[str, Any] = {
        "receipt_no": f"{prefix}-{n:06d}",
        "occurred_at": f"2026-11-20T{8 + n % 13:02d}:{n % 60:02d}:{n % 59:02d}+08:00",
        "cashier": f"c{n % 12:02d}",
        "lines": [
            {
                "barcode": ean13(line.product_id),
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "amount": str(line.amount),
            }
            for line in picked
        ],
        "payments": [
            {"method": rng.choice(["wechat_pay", "alipay", "cash"]), "amount": str(total)}
        ],
        "total": str(total),
    }
    if rng.random() < MEMBER_SHARE:
        body["member"] = {"card_no": card_no(rng.randrange(MEMBERS))}
    return body


# --- databases ----------------------------------------------------------------------------


def prepare(url: str, product_ids: set[int]) -> dict[str, str]:
    """Migrate ``url`` and add a store, its tills, the products and members; return tills' keys."""
    engine = make_engine(url)
    db_upgrade(engine)
    keys: dict[str, str] = {}
    with UnitOfWork(make_session_factory(engine)) as uow:
        catalog_service.store_create(uow, data=StoreCreate(code="B01", name="Bench", city="上海"))
        for n in range(1, TERMINALS + 1):
            code = f"T{n:02d}"
            catalog_service.terminal_create(uow, store_code="B01", code=code)
            keys[code] = catalog_service.terminal_issue_key(
                uow, store_code="B01", terminal_code=code
            ).api_key
        for product_id in sorted(product_ids):
            catalog_service.product_create(
                uow,
                data=ProductCreate(
                    sku=f"CJ{product_id}", barcode=ean13(product_id), name_en=f"CJ {product_id}"
                ),
            )
        for n in range(MEMBERS):
            member_service.member_register(uow, data=MemberCreate(card_no=card_no(n)))
        uow.commit()
    engine.dispose()
    return keys


class Databases:
    """A prepared template database per kind, and throwaway copies of it for each run."""

    def __init__(self, workdir: Path, pg_url: str | None) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self.made: list[str] = []

    def template(self, kind: str) -> str:
        """URL of a new empty database of ``kind`` to prepare as the template."""
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / 'template.db'}"
        assert self.pg_url
        return self._pg_create(f"regulars_bench_tpl_{uuid.uuid4().hex[:8]}", None)

    def copy(self, template: str) -> str:
        """A fresh database holding exactly what ``template`` holds."""
        if template.startswith("sqlite"):
            target = self.workdir / f"run-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(str(make_url(template).database), target)
            return f"sqlite:///{target}"
        return self._pg_create(f"regulars_bench_{uuid.uuid4().hex[:8]}", template)

    def _pg_create(self, name: str, template: str | None) -> str:
        assert self.pg_url
        admin = create_engine(make_url(self.pg_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            like = f' TEMPLATE "{make_url(template).database}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{like}'))
        admin.dispose()
        url = make_url(self.pg_url).set(database=name).render_as_string(hide_password=False)
        self.made.append(url)
        return url

    def drop_all(self) -> None:
        """Drop every PostgreSQL database made here (SQLite files go with the work dir)."""
        if not self.pg_url:
            return
        admin = create_engine(make_url(self.pg_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for url in self.made:
                conn.execute(
                    text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
                )
        admin.dispose()


def count_recorded(url: str) -> tuple[int, int]:
    """Receipt rows and line rows in a database."""
    engine = make_engine(url)
    with engine.connect() as conn:
        receipts = int(conn.scalar(select(func.count()).select_from(Receipt)) or 0)
        lines = int(conn.scalar(select(func.count()).select_from(ReceiptLine)) or 0)
    engine.dispose()
    return receipts, lines


# --- server and load ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: str, workers: int, var_dir: Path, source: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``regulars serve`` on ``url`` with ``workers`` processes, once it answers.

    With ``source`` (a source tree, e.g. a ``git archive`` of earlier code) the server
    imports ``regulars`` from there instead of this tree.
    """
    port = free_port()
    env = {**os.environ, "REGULARS_DATABASE_URL": url, "REGULARS_VAR_DIR": str(var_dir)}
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    # Without the job scheduler: a fresh server would run the nightly jobs at once, beside
    # the load, and the figures would measure them too.
    command = [str(Path(sys.executable).with_name("regulars")), "serve", "--no-scheduler"]
    command += ["--port", str(port)]
    # A session of its own, so that stopping it reaches uvicorn's worker processes too.
    proc = subprocess.Popen([*command, "--workers", str(workers)], env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return proc, base_url
        except httpx.TransportError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("server did not start within 600 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started by :func:`start_server` and its worker processes."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user and system) used so far by the processes ``pids`` that still run."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _session_pids(session: int) -> list[int]:
    """The processes of a session (the server and its uvicorn workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == session:
            pids.append(int(entry.name))
    return pids


def _backend_pids(url: str | None) -> list[int]:
    """PostgreSQL's server processes serving ``url``'s database (same machine)."""
    if not url or not url.startswith("postgresql"):
        return []
    engine = create_engine(make_url(url))
    with engine.connect() as conn:
        pids = list(
            conn.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        )
    engine.dispose()
    return [int(p) for p in pids]


@dataclass
class CpuProbe:
    """CPU seconds of the server's processes and of the database's (PostgreSQL) processes.

    On a machine shared with other work the rates move with the load; the CPU each
    receipt costs moves much less, so it is reported beside them.
    """

    session: int | None = None
    database_url: str | None = None

    def read(self) -> tuple[float, float]:
        """(server CPU seconds, database CPU seconds) so far."""
        server = _cpu_of(_session_pids(self.session)) if self.session else 0.0
        return server, _cpu_of(_backend_pids(self.database_url))


async def _phase(
    base_url: str, requests: list[list[str]], clients: int, probe: CpuProbe | None = None
) -> dict[str, Any]:
    """Send ``(api key, body)`` pairs from ``clients`` connections; time each request."""
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for key, body in requests:
        queue.put_nowait((key, body.encode()))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            key, body = queue.get_nowait()
            headers = {"X-Api-Key": key, "Content-Type": "application/json"}
            began = time.perf_counter()
            answer = await client.post("/api/v1/receipts", content=body, headers=headers)
            latencies.append(time.perf_counter() - began)
            statuses[answer.status_code] += 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        workers = [worker(client) for _ in range(clients)]
        return await _measured(probe or CpuProbe(), workers, latencies, statuses)


async def _measured(
    probe: CpuProbe,
    workers: list[Coroutine[Any, Any, None]],
    latencies: list[float],
    statuses: Counter[int],
) -> dict[str, Any]:
    """Run the ``workers`` (which fill ``latencies`` and ``statuses``) and return the
    phase's figures: rate, latency, statuses, and the CPU of client, server and database."""
    server_cpu, db_cpu = probe.read()
    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*workers)
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu
    server_after, db_after = probe.read()
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": wall,
        "per_second": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_cpu_seconds": cpu,
        "server_cpu_ms": 1000 * (server_after - server_cpu) / max(1, len(latencies)),
        "database_cpu_ms": 1000 * (db_after - db_cpu) / max(1, len(latencies)),
    }


async def _raw_phase(
    base_url: str, requests: list[list[str]], clients: int, probe: CpuProbe | None = None
) -> dict[str, Any]:
    """:func:`_phase` with a lean load generator: each request is built as bytes before the
    clock starts and written on a plain asyncio stream; httptools (the parser uvicorn uses)
    reads the answer. A load generator's own CPU is not the till's, and on two shared cores
    httpx's 1.3 ms per request is a third of what the server and PostgreSQL need."""
    host, port = base_url.removeprefix("http://").split(":")
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for key, body in requests:
        data = body.encode()
        head = (
            f"POST /api/v1/receipts HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        queue.put_nowait(head.encode() + data)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    class Answer:
        """Callbacks of one response for httptools."""

        def __init__(self) -> None:
            self.done = False

        def on_message_complete(self) -> None:
            self.done = True

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while not queue.empty():
                request = queue.get_nowait()
                answer = Answer()
                parser = httptools.HttpResponseParser(answer)
                began = time.perf_counter()
                writer.write(request)
                while not answer.done:
                    chunk = await reader.read(65536)
                    if not chunk:
                        raise ConnectionError("the server closed the connection")
                    parser.feed_data(chunk)
                latencies.append(time.perf_counter() - began)
                statuses[parser.get_status_code()] += 1
        finally:
            writer.close()

    workers = [worker() for _ in range(clients)]
    return await _measured(probe or CpuProbe(), workers, latencies, statuses)


def load_main(base_url: str, jobs: Path, clients: int, lean: bool = False) -> None:
    """The client process: run each phase of ``jobs`` in turn and print the figures as JSON."""
    phases = json.loads(jobs.read_text())
    meta = phases.pop("_meta", {})
    probe = CpuProbe(meta.get("server_session"), meta.get("database_url"))
    results = {}
    run = _raw_phase if lean else _phase
    for name, requests in phases.items():
        results[name] = asyncio.run(run(base_url, requests, clients, probe))
    print(json.dumps(results))


# --- one run and the report ---------------------------------------------------------------


@dataclass
class Run:
    """The figures of one database × worker count."""

    database: str
    workers: int
    receipts: int
    lines: int
    code: str = ""
    generator: str = "httpx"
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    recorded: tuple[int, int] = (0, 0)
    expected: tuple[int, int] = (0, 0)

    @property
    def ok(self) -> bool:
        """Each receipt recorded once with its lines, and no unexpected status."""
        first = self.phases["receipts"]["statuses"] == {"201": self.receipts}
        replay = self.phases["replays"]["statuses"] == {"200": self.receipts}
        return first and replay and self.recorded == self.expected


def run_one(
    kind: str,
    url: str,
    workers: int,
    keys: dict[str, str],
    data: tuple[list[Line], list[int]],
    sizes: tuple[int, int],
    clients: int,
    workdir: Path,
    version: tuple[str, Path | None] = ("", None),
    lean: bool = False,
) -> Run:
    """Serve a fresh copy of the prepared database and load it from a client process."""
    lines, basket_sizes = data
    warmup, measured = sizes
    rng = random.Random(f"{kind}-{workers}")
    tills = sorted(keys)

    def batch(prefix: str, count: int) -> list[dict[str, Any]]:
        return [receipt(n, prefix, lines, basket_sizes, rng) for n in range(count)]

    def requests(bodies: list[dict[str, Any]]) -> list[list[str]]:
        return [[keys[tills[n % len(tills)]], json.dumps(b)] for n, b in enumerate(bodies)]

    warm, timed = batch("W", warmup), batch("R", measured)
    jobs = workdir / f"jobs-{kind}-{workers}.json"
    proc, base_url = start_server(url, workers, workdir / "var", version[1])
    try:
        jobs.write_text(
            json.dumps(
                {
                    "_meta": {"server_session": proc.pid, "database_url": url},
                    "warm-up": requests(warm),
                    "receipts": requests(timed),
                    "replays": requests(timed),
                }
            )
        )
        client = [
            sys.executable,
            __file__,
            "--load",
            base_url,
            str(jobs),
            "--clients",
            str(clients),
            *(["--lean-client"] if lean else []),
        ]
        done = subprocess.run(client, check=True, capture_output=True, text=True)
    finally:
        stop_server(proc)
    result = Run(
        kind,
        workers,
        measured,
        sum(len(b["lines"]) for b in timed),
        version[0],
        "lean" if lean else "httpx",
    )
    result.phases = json.loads(done.stdout)
    result.recorded = count_recorded(url)
    all_lines = sum(len(b["lines"]) for b in warm + timed)
    result.expected = (warmup + measured, all_lines)
    return result


def machine() -> str:
    """A line naming the machine, Python and PostgreSQL."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for row in cpuinfo.read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    python = platform.python_version()
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {python}"


def pg_version(pg_url: str | None) -> str:
    """PostgreSQL's version string, or a dash."""
    if not pg_url:
        return "—"
    engine = create_engine(make_url(pg_url))
    with engine.connect() as conn:
        version = str(conn.scalar(text("SHOW server_version")))
    engine.dispose()
    return version


def report(runs: list[Run], args: argparse.Namespace, bulk: str | None) -> str:
    """The results as markdown."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mean_lines = statistics.mean(r.lines / r.receipts for r in runs) if runs else 0
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    out = [
        "# Till ingest",
        "",
        f"Measured {now} on {machine()}; PostgreSQL {pg_version(args.pg_url)}, "
        f"same machine, default configuration. Load average at the end: {load} "
        "(1 / 5 / 15 min; other processes shared the machine if above about 1).",
        "",
        "Reproduce: `.venv/bin/python benchmarks/ingest.py"
        + (f" --receipts {args.receipts} --warmup {args.warmup}" if args.receipts != 3000 else "")
        + (" --skip-bulk" if args.skip_bulk else "")
        + (" --baseline DIR" if args.baseline else "")
        + (" --lean-client" if args.lean_client else "")
        + (
            f" --generators {args.generators}"
            if not args.lean_client and args.generators != "lean,httpx"
            else ""
        )
        + "` (PostgreSQL at 127.0.0.1:5432, trust auth"
        + ("; DIR a `git archive` of the code before the change" if args.baseline else "")
        + ").",
        "",
        f"`POST /api/v1/receipts` from {args.clients} concurrent keep-alive connections of one "
        "client process (the *load generator*: *lean*, the benchmark of record, builds each "
        "request as bytes before the clock starts, writes it on an asyncio stream and reads "
        "the answer with httptools, using a few per cent of a core; *httpx*, httpx's asyncio "
        "client, uses about 40 % of one of the two cores the server needs, and is shown for "
        "comparison with earlier runs) over loopback to `regulars serve --workers N` "
        f"(uvicorn, uvloop, httptools). Each run: a fresh copy of a database with 1 store, "
        f"{TERMINALS} tills, the sample's products and {MEMBERS} members; {args.warmup} "
        f"warm-up receipts, then {args.receipts} measured receipts ({mean_lines:.1f} lines on "
        f"average, {MEMBER_SHARE:.0%} with a member card) spread over the {TERMINALS} tills, "
        "then the same receipts again as replays. Client and server share the machine's "
        "CPUs, so the client's own CPU time is shown. *Server CPU* and *database CPU* are "
        "the CPU time of the server's processes and of PostgreSQL's processes serving the "
        "run's database, per measured receipt: they depend much less on other load than "
        "the rates do.",
        "",
        "| database | workers | load generator | code | receipts/s | p50 ms | p99 ms "
        "| server CPU ms | database CPU ms | replays/s | replay p50 ms | replay p99 ms "
        "| client CPU | vs target | recorded once |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | --- |",
    ]
    for r in runs:
        first, again = r.phases["receipts"], r.phases["replays"]
        busy = first["client_cpu_seconds"] / first["seconds"]
        target = f"{first['per_second'] / TARGET:.2f}×" if r.database == "postgresql" else "—"
        database_cpu = f"{first['database_cpu_ms']:.2f}" if r.database == "postgresql" else "—"
        out.append(
            f"| {r.database} | {r.workers} | {r.generator} | {r.code or 'this tree'} "
            f"| {first['per_second']:.0f} | {first['p50_ms']:.1f} "
            f"| {first['p99_ms']:.1f} | {first['server_cpu_ms']:.2f} | {database_cpu} "
            f"| {again['per_second']:.0f} | {again['p50_ms']:.1f} "
            f"| {again['p99_ms']:.1f} | {busy:.0%} of a core | {target} "
            f"| {'yes' if r.ok else 'NO: ' + json.dumps([first['statuses'], r.recorded])} |"
        )
    record = "lean" if any(r.generator == "lean" for r in runs) else "httpx"
    rate = {
        (r.database, r.workers): r.phases["receipts"]["per_second"]
        for r in runs
        if r.code in ("", "(after)") and r.generator == record
    }
    ratios = []
    for workers in sorted({r.workers for r in runs}):
        if ("postgresql", workers) in rate and ("sqlite", workers) in rate:
            ratio = rate["postgresql", workers] / rate["sqlite", workers]
            ratios.append(f"| PostgreSQL ÷ SQLite, {workers} worker(s) | {ratio:.2f} |")
    for database in ("sqlite", "postgresql"):
        counts = sorted(w for d, w in rate if d == database)
        if len(counts) > 1:
            ratio = rate[database, counts[-1]] / rate[database, counts[0]]
            ratios.append(f"| {database}: {counts[-1]} workers ÷ {counts[0]} | {ratio:.2f} |")
    if ratios:
        out += [
            "",
            f"| ratio of receipts/s ({record} load generator) | value |",
            "| --- | ---: |",
            *ratios,
        ]
    out += [
        "",
        f"Target: {TARGET} receipts/s on PostgreSQL. *vs target* is the measured rate divided "
        "by it. *Recorded once*: every first send answered 201, every replay 200, and the "
        "database holds exactly the warm-up and measured receipts with all their lines.",
    ]
    if bulk:
        out += ["", bulk.strip()]
    return "\n".join(out) + "\n"


def main() -> None:
    """Parse the arguments; run every database × worker count; write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--generators",
        default="lean,httpx",
        help="load generators to run, comma-separated: lean (asyncio streams and httptools,"
        " the benchmark of record) and httpx",
    )
    parser.add_argument(
        "--lean-client", action="store_true", help="only the lean generator (--generators lean)"
    )
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts, comma-separated")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="an existing PostgreSQL database")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--baseline", type=Path, help="source tree of the code to compare")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--load", nargs=2, metavar=("BASE_URL", "JOBS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load[0], Path(args.load[1]), args.clients, args.lean_client)
        return
    generators = ["lean"] if args.lean_client else args.generators.split(",")
    if not set(generators) <= {"lean", "httpx"}:
        parser.error("--generators takes lean and httpx")
    if args.skip_postgres:
        args.pg_url = None
    # One data key for this process (members' data is encrypted) and the servers it starts.
    os.environ.setdefault("REGULARS_DATA_KEY", base64.b64encode(os.urandom(32)).decode())
    lines, sizes = read_lines(), read_basket_sizes()
    versions: list[tuple[str, Path | None]] = [("", None)]
    if args.baseline:
        versions = [("(before)", args.baseline.resolve()), ("(after)", None)]
    product_ids = {line.product_id for line in lines}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="regulars-bench-") as tmp:
        workdir = Path(tmp)
        databases = Databases(workdir, args.pg_url)
        try:
            kinds = [k for k in ("sqlite", "postgresql") if k != "sqlite" or not args.skip_sqlite]
            for kind in kinds if args.pg_url else ["sqlite"]:
                began = time.perf_counter()
                template = databases.template(kind)
                keys = prepare(template, product_ids)
                print(
                    f"{kind}: prepared {len(product_ids)} products in "
                    f"{time.perf_counter() - began:.0f} s",
                    file=sys.stderr,
                )
                runs_of = [
                    (w, g, v)
                    for w in (int(w) for w in args.workers.split(","))
                    for g in generators
                    for v in versions
                ]
                for workers, generator, version in runs_of:
                    url = databases.copy(template)
                    run = run_one(
                        kind,
                        url,
                        workers,
                        keys,
                        (lines, sizes),
                        (args.warmup, args.receipts),
                        args.clients,
                        workdir,
                        version,
                        generator == "lean",
                    )
                    first = run.phases["receipts"]
                    print(
                        f"{kind} × {workers} {generator} {version[0]}: "
                        f"{first['per_second']:.0f} receipts/s, "
                        f"p50 {first['p50_ms']:.1f} ms, p99 {first['p99_ms']:.1f} ms, "
                        f"server CPU {first['server_cpu_ms']:.2f} ms/receipt, "
                        f"database CPU {first['database_cpu_ms']:.2f} ms/receipt, "
                        f"replays {run.phases['replays']['per_second']:.0f}/s "
                        f"({run.phases['replays']['server_cpu_ms']:.2f} ms), ok={run.ok}",
                        file=sys.stderr,
                    )
                    runs.append(run)
        finally:
            databases.drop_all()
    bulk = None if args.skip_bulk else run_bulk(args.pg_url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(runs, args, bulk))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
