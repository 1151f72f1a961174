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

import os
import platform
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
from regulars.demo.service import _read
from regulars.entrypoints.context import db_upgrade
from regulars.imports.formats import check_columns
from regulars.imports.outcome import Outcome
from regulars.imports.service import import_file, import_frame

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "completejourney" / "csv"
TRANSACTIONS = DATA / "transactions_sample.csv"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _prepare(url: str, folder: Path) -> tuple[Path, int]:
    """Migrate ``url``, load demo members and products, write the receipts file."""
    engine = make_engine(url)
    db_upgrade(engine)
    tx = _read(TRANSACTIONS)
    products = _read(DATA / "products.csv")
    demographics = _read(DATA / "demographics.csv")
    priced = convert.transactions_priced(tx, Outcome(), set(products["product_id"].to_list()))
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


def _regulars(url: str, folder: Path) -> tuple[float, int, int]:
    """Seconds to import the receipts file, lines loaded and lines in the file."""
    path, _lines = _prepare(url, folder)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        started = time.perf_counter()
        run, _outcome = import_file(
            uow, kind="receipts", data=path, filename=path.name, checkpoint=uow.commit
        )
        uow.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, run.rows_loaded, run.rows_total


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


def _copy(conninfo: str) -> float:
    """Seconds for COPY of the transactions file into a plain table (best of 3)."""
    best = float("inf")
    with psycopg.connect(conninfo) as conn:
        for _ in range(3):
            conn.execute("DROP TABLE IF EXISTS cj_lines")
            conn.execute(
                "CREATE TABLE cj_lines (household_id bigint, store_id bigint, basket_id text,"
                " product_id text,"
                " quantity numeric, sales_value numeric, retail_disc numeric, coupon_disc numeric,"
                " coupon_match_disc numeric, week int, transaction_timestamp timestamp)"
            )
            conn.commit()
            started = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy("COPY cj_lines FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                copy.write(TRANSACTIONS.read_bytes())
            conn.commit()
            best = min(best, time.perf_counter() - started)
    return best


def _duckdb() -> float:
    """Seconds for DuckDB to read the file into a table (best of 3)."""
    best = float("inf")
    for _ in range(3):
        con = duckdb.connect()
        started = time.perf_counter()
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_csv('{TRANSACTIONS}', all_varchar=false)"
        )
        best = min(best, time.perf_counter() - started)
        con.close()
    return best


def run_bulk(pg_url: str | None) -> str:
    """Run the bulk import comparison and return it as a markdown section."""
    os.environ.setdefault("REGULARS_VAR_DIR", tempfile.mkdtemp(prefix="regulars-bench-var-"))
    get_settings.cache_clear()
    reset_cipher()
    rows: list[tuple[str, float, int]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seconds, loaded, total = _regulars(f"sqlite:///{folder / 'bench.db'}", folder)
        rows.append(("Regulars import, SQLite", seconds, total))
        notes.append(
            f"{loaded:,} of {total:,} lines loaded (the rest are the file's bad lines, reported)."
        )
        if pg_url:
            url, conninfo = _pg_database(pg_url)
            try:
                seconds, loaded, total = _regulars(url, folder)
                rows.append(("Regulars import, PostgreSQL", seconds, total))
                rows.append(("PostgreSQL COPY (plain table)", _copy(conninfo), total))
            finally:
                _drop(pg_url, make_url(url).database or "")
        rows.append(("DuckDB read_csv (in memory)", _duckdb(), total))
    copy = next((s for name, s, _n in rows if name.startswith("PostgreSQL COPY")), None)
    out = [
        "## Bulk import (receipts file)",
        "",
        f"`{TRANSACTIONS.name}` in the receipts format: {total:,} lines."
        f" Python {platform.python_version()}, {os.cpu_count()} CPUs.",
        "",
        "| path | seconds | lines/s | × COPY time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, seconds, n in rows:
        ratio = f"{seconds / copy:.1f}" if copy else "–"
        out.append(f"| {name} | {seconds:.2f} | {n / seconds:,.0f} | {ratio} |")
    out += ["", *notes, "Target: Regulars within 5× of COPY.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    section = run_bulk(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("REGULARS_BENCH_PG_URL", DEFAULT_PG)
    )
    target = ROOT / "benchmarks" / "results" / "ingest_bulk.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(section, encoding="utf-8")
    print(section)
