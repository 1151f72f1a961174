"""Bulk import speed: Regulars' receipts import against PostgreSQL COPY and DuckDB.

The demo transactions file (``transactions_sample.csv``, 75,000 lines) is turned into
Regulars' receipts format once (the demo's conversion, untimed) and written to a CSV;
the timed part is ``regulars import receipts`` of that file on a fresh database whose
members and products are already loaded: reading, checking, grouping into receipts,
hashing and inserting, with commits per batch. The ceilings are PostgreSQL ``COPY`` of
the original file into a plain table and DuckDB ``read_csv`` of it into a table.

``run_bulk(pg_url)`` returns a markdown section (``benchmarks/ingest.py`` includes it);
``python benchmarks/ingest_bulk.py`` writes it to ``benchmarks/results/ingest_bulk.md``.
"""

from __future__ import annotations

import io
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import psycopg
from sqlalchemy import make_url

from regulars.core.config import get_settings
from regulars.core.crypto import reset_cipher
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.demo import convert
from regulars.demo.service import read_cj
from regulars.entrypoints.context import db_upgrade
from regulars.imports.formats import check_columns
from regulars.imports.outcome import Outcome
from regulars.imports.service import import_file, import_frame

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "completejourney" / "csv"
TRANSACTIONS = DATA / "transactions_sample.csv"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _backend_cpu(pid: int | None) -> float:
    """CPU seconds a PostgreSQL backend on this machine has used (0 when not readable).

    Wall-clock times on a shared 2-core machine swing with the other processes; CPU
    seconds (client process plus its server backend) do not, so both are reported.
    """
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _prepare(url: str, folder: Path) -> tuple[Path, int]:
    """Migrate ``url``, load demo members and products, write the receipts file."""
    engine = make_engine(url)
    db_upgrade(engine)
    tx = read_cj(TRANSACTIONS)
    products = read_cj(DATA / "products.csv")
    demographics = read_cj(DATA / "demographics.csv")
    priced = convert.transactions_priced(tx, Outcome())
    households = sorted({int(h) for h in tx["household_id"].to_list() if h.isdigit()})
    with UnitOfWork(make_session_factory(engine)) as uow:
        for kind, frame in (
            ("members", convert.members_frame(households, demographics)),
            ("products", convert.products_frame(products, priced)),
        ):
            checked = check_columns(frame, kind=kind, filename=kind)  # type: ignore[arg-type]
            import_frame(uow, kind=kind, frame=checked, outcome=Outcome(), checkpoint=uow.commit)  # type: ignore[arg-type]
        uow.commit()
    engine.dispose()
    receipts = convert.receipts_frame(priced).drop("__line")
    path = folder / "receipts.csv"
    receipts.write_csv(path)
    return path, tx.height


def _reset(url: str) -> None:
    """Remove what a receipts import added, so the next run starts from the same state."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.exec_driver_sql("TRUNCATE receipt_line, receipt, terminal, store CASCADE")
        else:
            for name in ("receipt_line", "receipt", "terminal", "store"):
                conn.exec_driver_sql(f"DELETE FROM {name}")
        conn.exec_driver_sql(
            "UPDATE member SET first_purchase_at = NULL, first_purchase_category = NULL"
        )
    engine.dispose()


def _regulars(url: str, folder: Path, repeats: int) -> tuple[list[float], float, int, int]:
    """Seconds of each import, CPU seconds of the fastest, lines loaded, lines in the file."""
    path, _lines = _prepare(url, folder)
    times: list[float] = []
    cpus: list[float] = []
    for attempt in range(repeats):
        if attempt:
            _reset(url)
        engine = make_engine(url)
        with UnitOfWork(make_session_factory(engine)) as uow:
            pid = (
                int(
                    uow.session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                )
                if url.startswith("postgresql")
                else None
            )
            cpu = time.process_time() + _backend_cpu(pid)
            started = time.perf_counter()
            run, _outcome = import_file(
                uow, kind="receipts", data=path, filename=path.name, checkpoint=uow.commit
            )
            uow.commit()
            times.append(time.perf_counter() - started)
            # The pool hands the same connection back after each commit, so one backend.
            cpus.append(time.process_time() + _backend_cpu(pid) - cpu)
        engine.dispose()
    best = min(range(len(times)), key=times.__getitem__)
    return times, cpus[best], run.rows_loaded, run.rows_total


_LINE_COLUMNS = "receipt_id, line_no, product_id, quantity, unit_price, discount, amount"
_RECEIPT_COLUMNS = (
    "id, store_id, terminal_id, receipt_no, kind, occurred_at, cashier, member_id, total,"
    " discount_total, line_count, payments, content_hash, response, source, recorded_at"
)


def _floor_pg(conninfo: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """(seconds, CPU seconds) of COPY of the imported rows, as they are, into the real tables.

    What the database itself spends (indexes, foreign key checks, JSON parsing) whoever
    sends the rows: the part of the import no client code can remove (best of 3). The
    first pair with the foreign keys' per-row triggers, as an import without the privilege
    to turn them off writes; the second with them off (``session_replication_role =
    replica`` for the transaction), as the import writes when it may, having checked its
    references once per key (``imports.receipt_refs``). Rounds alternate the two.
    """
    best = {True: (float("inf"), 0.0), False: (float("inf"), 0.0)}
    with psycopg.connect(conninfo) as conn:
        pid = conn.info.backend_pid
        receipts = io.BytesIO()
        lines = io.BytesIO()
        with conn.cursor() as cur:
            for sink, sql in (
                (receipts, f"COPY receipt ({_RECEIPT_COLUMNS}) TO STDOUT"),
                (lines, f"COPY receipt_line ({_LINE_COLUMNS}) TO STDOUT"),
            ):
                with cur.copy(sql) as copy:
                    for chunk in copy:
                        sink.write(chunk)
        conn.commit()
        for _ in range(3):
            for triggers in (True, False):
                conn.execute("TRUNCATE receipt_line, receipt")
                conn.commit()
                started, cpu = time.perf_counter(), time.process_time() + _backend_cpu(pid)
                with conn.cursor() as cur:
                    if not triggers:
                        cur.execute("SET LOCAL session_replication_role = replica")
                    for data, sql in (
                        (receipts, f"COPY receipt ({_RECEIPT_COLUMNS}) FROM STDIN"),
                        (lines, f"COPY receipt_line ({_LINE_COLUMNS}) FROM STDIN"),
                    ):
                        with cur.copy(sql) as copy:
                            copy.write(data.getvalue())
                conn.commit()
                took = (
                    time.perf_counter() - started,
                    time.process_time() + _backend_cpu(pid) - cpu,
                )
                best[triggers] = min(best[triggers], took)
    return best[True], best[False]


def _floor_sqlite(path: Path) -> tuple[float, float]:
    """Seconds for ``executemany`` of the imported rows back into the real tables (best of 3).

    One transaction per 5,000 receipts, as the import commits: SQLite's own cost.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    # The import's settings, page cache included (``imports.bulk.write_cache``).
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "cache_size=-65536",
    ):
        conn.execute(f"PRAGMA {pragma}")
    receipts = conn.execute(f"SELECT {_RECEIPT_COLUMNS} FROM receipt ORDER BY id").fetchall()
    lines = conn.execute(f"SELECT {_LINE_COLUMNS} FROM receipt_line ORDER BY id").fetchall()
    best = (float("inf"), 0.0)
    marks_r = ", ".join("?" * 16)
    for _ in range(3):
        conn.execute("DELETE FROM receipt_line")
        conn.execute("DELETE FROM receipt")
        started, cpu = time.perf_counter(), time.process_time()
        at = 0
        for start in range(0, len(receipts), 5000):
            chunk = receipts[start : start + 5000]
            end = at
            while end < len(lines) and lines[end][0] <= chunk[-1][0]:
                end += 1
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f"INSERT INTO receipt ({_RECEIPT_COLUMNS}) VALUES ({marks_r})", chunk)
            conn.executemany(
                f"INSERT INTO receipt_line ({_LINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                lines[at:end],
            )
            conn.execute("COMMIT")
            at = end
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    conn.close()
    return best


def _pg_database(pg_url: str) -> tuple[str, str]:
    """A throwaway database next to ``pg_url``: (SQLAlchemy URL, libpq conninfo)."""
    base = make_url(pg_url)
    name = f"regulars_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_conninfo(base.set(database="postgres")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name)
    return url.render_as_string(hide_password=False), _conninfo(url)


def _conninfo(url: object) -> str:
    u = make_url(str(url)) if not hasattr(url, "host") else url
    parts = [
        f"host={u.host or '127.0.0.1'}",
        f"port={u.port or 5432}",
        f"user={u.username or 'postgres'}",
        f"dbname={u.database}",
    ]  # type: ignore[attr-defined]
    if getattr(u, "password", None):
        parts.append(f"password={u.password}")  # type: ignore[attr-defined]
    return " ".join(parts)


def _drop(pg_url: str, name: str) -> None:
    with psycopg.connect(
        _conninfo(make_url(pg_url).set(database="postgres")), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy(conninfo: str) -> tuple[float, float]:
    """Seconds for COPY of the transactions file into a plain table (best of 3)."""
    best = (float("inf"), 0.0)
    with psycopg.connect(conninfo) as conn:
        pid = conn.info.backend_pid
        for _ in range(3):
            conn.execute("DROP TABLE IF EXISTS cj_lines")
            conn.execute(
                "CREATE TABLE cj_lines (household_id bigint, store_id bigint, basket_id text,"
                " product_id text,"
                " quantity numeric, sales_value numeric, retail_disc numeric, coupon_disc numeric,"
                " coupon_match_disc numeric, week int, transaction_timestamp timestamp)"
            )
            conn.commit()
            started, cpu = time.perf_counter(), time.process_time() + _backend_cpu(pid)
            with (
                conn.cursor() as cur,
                cur.copy("COPY cj_lines FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                copy.write(TRANSACTIONS.read_bytes())
            conn.commit()
            best = min(
                best, (time.perf_counter() - started, time.process_time() + _backend_cpu(pid) - cpu)
            )
    return best


def _duckdb() -> tuple[float, float]:
    """Seconds for DuckDB to read the file into a table (best of 3)."""
    best = (float("inf"), 0.0)
    for _ in range(3):
        con = duckdb.connect()
        started, cpu = time.perf_counter(), time.process_time()
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_csv('{TRANSACTIONS}', all_varchar=false)"
        )
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
        con.close()
    return best


def _stats(times: list[float]) -> str:
    return f"best {min(times):.2f} s, median {statistics.median(times):.2f} s of {len(times)}"


def _load() -> str:
    """The load averages (1, 5, 15 minutes) while the figures were taken."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_bulk(pg_url: str | None, repeats: int = 5) -> str:
    """Run the bulk import comparison and return it as a markdown section."""
    os.environ.setdefault("REGULARS_VAR_DIR", tempfile.mkdtemp(prefix="regulars-bench-var-"))
    get_settings.cache_clear()
    reset_cipher()
    rows: list[tuple[str, tuple[float, float], int]] = []
    notes: list[str] = [f"Load average before: {_load()}."]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times, cpu, loaded, total = _regulars(f"sqlite:///{folder / 'bench.db'}", folder, repeats)
        rows.append(("Regulars import, SQLite", (min(times), cpu), total))
        notes.append(f"Regulars import, SQLite: {_stats(times)}.")
        rows.append(
            (
                "SQLite executemany of the same rows (floor)",
                _floor_sqlite(folder / "bench.db"),
                total,
            )
        )
        notes.append(
            f"{loaded:,} of {total:,} lines loaded (the rest are the file's bad lines, reported)."
        )
        if pg_url:
            url, conninfo = _pg_database(pg_url)
            try:
                times, cpu, loaded, total = _regulars(url, folder, repeats)
                rows.append(("Regulars import, PostgreSQL", (min(times), cpu), total))
                notes.append(f"Regulars import, PostgreSQL: {_stats(times)}.")
                with_triggers, without = _floor_pg(conninfo)
                rows.append(("PostgreSQL COPY of the same rows (floor)", with_triggers, total))
                rows.append(
                    (
                        "PostgreSQL COPY of the same rows, no per-row FK triggers (floor)",
                        without,
                        total,
                    )
                )
                rows.append(("PostgreSQL COPY (plain table)", _copy(conninfo), total))
            finally:
                _drop(pg_url, make_url(url).database or "")
        rows.append(("DuckDB read_csv (in memory)", _duckdb(), total))
    notes.append(f"Load average after: {_load()}.")
    copy = next((t for name, t, _n in rows if name.startswith("PostgreSQL COPY (plain")), None)
    out = [
        "## Bulk import (receipts file)",
        "",
        f"`{TRANSACTIONS.name}` in the receipts format: {total:,} lines."
        f" Python {platform.python_version()}, {os.cpu_count()} CPUs."
        " Command: `.venv/bin/python benchmarks/ingest_bulk.py`.",
        "",
        "| path | seconds | lines/s | × COPY time | CPU s | × COPY CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (seconds, cpu_s), n in rows:
        ratio = f"{seconds / copy[0]:.1f}" if copy else "–"
        cpu_ratio = f"{cpu_s / copy[1]:.1f}" if copy and copy[1] else "–"
        out.append(
            f"| {name} | {seconds:.2f} | {n / seconds:,.0f} | {ratio} | {cpu_s:.2f} | {cpu_ratio} |"
        )
    out += [
        "",
        *notes,
        "",
        "*Seconds* are the best wall-clock time; *CPU s* the CPU time of that run: the"
        " Python process plus, on PostgreSQL, its server backend (read from `/proc`, so"
        " only for a server on this machine). On a shared machine the CPU figures are the"
        " steadier ones.",
        "",
        "*Floor* rows write the rows the import wrote, as stored, into the real `receipt` and"
        " `receipt_line` tables (their indexes and foreign keys), with no checks, grouping or"
        " hashing: what the database alone costs. *No per-row FK triggers*: the same COPY"
        " with `session_replication_role = replica`, the way the import writes on PostgreSQL"
        " when its role may set it, after locking each referenced parent once"
        " (`imports/receipt_refs.py`); the import's own locks are not in this row.",
        "",
        "Target: Regulars within 5× of COPY.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    section = run_bulk(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("REGULARS_BENCH_PG_URL", DEFAULT_PG)
    )
    target = ROOT / "benchmarks" / "results" / "ingest_bulk.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(section, encoding="utf-8")
    print(section)
