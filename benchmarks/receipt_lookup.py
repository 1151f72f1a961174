"""Finding a receipt by its number, with the receipt joined to its till by id alone
(before) and by id and store (``sales.queries.TILL_OF_RECEIPT``, after).

Two lookups a chain makes by receipt number without the till: the service desk's search
(``GET /api/v1/receipts?receipt_no=``, any store) and a till's return naming the original
receipt without its terminal (one store). Neither has an index of its own: the receipt's
key is (store, terminal, number), and each added index costs every till and every import.
Joined by id alone, PostgreSQL reads all of a store's key entries to find the number;
joined by id and store it probes the key once per till.

A throwaway PostgreSQL database is migrated and filled by SQL (``generate_series``) with
``--receipts`` receipts spread over ``--stores`` stores of ``--tills`` tills each; each
query runs ``--repeat`` times for numbers that exist and numbers that do not, and the
median is reported. ``python benchmarks/receipt_lookup.py`` writes
``benchmarks/results/receipt_lookup.md``.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from regulars.core.db import SQLITE_ANALYSIS_LIMIT, make_engine
from regulars.entrypoints.context import db_upgrade

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

FILL = """
INSERT INTO store (code, name, is_demo)
SELECT 'S' || lpad(s::text, 4, '0'), 'Store ' || s, false
FROM generate_series(1, %(stores)s) s;
INSERT INTO terminal (store_id, code, created_at)
SELECT st.id, 'T' || lpad(t::text, 2, '0'), now()
FROM store st, generate_series(1, %(tills)s) t;
INSERT INTO receipt (store_id, terminal_id, receipt_no, kind, occurred_at, total,
                     discount_total, line_count, payments, content_hash, response, source,
                     recorded_at)
SELECT te.store_id, te.id, 'R' || g, 'sale', now() - (g || ' seconds')::interval, 1, 0, 1,
       '[]', md5(g::text), '{}', 'import', now()
FROM generate_series(1, %(receipts)s) g
JOIN terminal te ON te.id = 1 + (g %% %(till_count)s);
ANALYZE store; ANALYZE terminal; ANALYZE receipt;
"""

SEARCH = """
SELECT r.id FROM receipt r
JOIN store s ON s.id = r.store_id
JOIN terminal t ON {join}
WHERE r.receipt_no = %(no)s
ORDER BY r.occurred_at DESC, r.id DESC LIMIT 50
"""
ORIGINAL = """
SELECT r.id FROM receipt r
{join}
WHERE r.store_id = %(store)s AND r.receipt_no = %(no)s AND r.kind = 'sale'
"""
# (search's join, the original's join): before, the original was not joined to its till.
JOINS = {
    "before: by till id": ("t.id = r.terminal_id", ""),
    "after: by till id and store": (
        "t.id = r.terminal_id AND t.store_id = r.store_id",
        "JOIN terminal t ON t.id = r.terminal_id AND t.store_id = r.store_id",
    ),
}


def _median_ms(cur: psycopg.Cursor[tuple[int]], sql: str, params: list[dict[str, object]]) -> float:
    times = []
    for p in params:
        start = time.perf_counter()
        cur.execute(sql, p)
        cur.fetchall()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


Row = tuple[str, float, float, float, float]


def _table(rows: list[Row], before: Row, after: Row) -> list[str]:
    """The markdown table of the lookups' medians, with before ÷ after."""
    lines = [
        "| receipt joined to its till | search, found | search, not found "
        "| a store's original, found | not found |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, *ms in rows:
        lines.append(f"| {label} | " + " | ".join(f"{m:.2f}" for m in ms) + " |")
    ratios = [b / a if a else 0.0 for b, a in zip(before[1:], after[1:], strict=True)]
    lines.append("| before ÷ after | " + " | ".join(f"{r:.0f}×" for r in ratios) + " |")
    return lines


def run(args: argparse.Namespace) -> str:
    base = make_url(args.pg_url)
    name = f"regulars_bench_lookup_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    url = base.set(database=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            db_upgrade(engine)
        finally:
            engine.dispose()
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            start = time.perf_counter()
            sizes = {
                "stores": args.stores,
                "tills": args.tills,
                "receipts": args.receipts,
                "till_count": args.stores * args.tills,
            }
            for statement in filter(str.strip, FILL.split(";")):
                conn.execute(statement, sizes)  # type: ignore[call-overload]
            filled = time.perf_counter() - start
            biggest = conn.execute(
                "SELECT store_id FROM receipt GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
            store = int(biggest[0]) if biggest else 1
            step = max(1, args.receipts // args.repeat)
            found = [f"R{n}" for n in range(1, args.receipts + 1, step)][: args.repeat]
            missing = [f"X{n}" for n in range(args.repeat)]
            rows: list[Row] = []
            with conn.cursor() as cur:
                for label, (search_join, original_join) in JOINS.items():
                    search = SEARCH.format(join=search_join)
                    original = ORIGINAL.format(join=original_join)
                    rows.append(
                        (
                            label,
                            _median_ms(cur, search, [{"no": n} for n in found]),
                            _median_ms(cur, search, [{"no": n} for n in missing]),
                            _median_ms(cur, original, [{"store": store, "no": n} for n in found]),
                            _median_ms(cur, original, [{"store": store, "no": n} for n in missing]),
                        )
                    )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    before, after = rows
    lines = [
        "## Finding a receipt by its number",
        "",
        f"{args.receipts:,} receipts in {args.stores} stores of {args.tills} tills each "
        f"(filled in {filled:.0f} s by SQL), PostgreSQL, Python {platform.python_version()}. "
        f"Median of {args.repeat} numbers each, milliseconds. Command: "
        f"`.venv/bin/python benchmarks/receipt_lookup.py --receipts {args.receipts} "
        f"--stores {args.stores} --tills {args.tills}`.",
        "",
        *_table(rows, before, after),
    ]
    lines += [
        "",
        "*Search*: the service desk's search by number across every store "
        "(`sales.queries.receipt_find`). *A store's original*: a return naming its original "
        "receipt without the till, in the store with the most receipts "
        "(`sales.service._original_receipt`). Both probe the receipt key "
        "(store, terminal, number); no index was added.",
        "",
    ]
    return "\n".join(lines)


SQLITE_FILL = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :receipts)
INSERT INTO receipt (store_id, terminal_id, receipt_no, kind, occurred_at, total,
                     discount_total, line_count, payments, content_hash, response, source,
                     recorded_at)
SELECT te.store_id, te.id, 'R' || n, 'sale', datetime('now', '-' || n || ' seconds'), 1, 0,
       1, '[]', 'h' || n, '{}', 'import', datetime('now')
FROM g JOIN terminal te ON te.id = 1 + (n % :till_count)
"""


def _sqlite_ms(conn: sqlite3.Connection, sql: str, params: list[dict[str, object]]) -> float:
    times = []
    for p in params:
        start = time.perf_counter()
        conn.execute(sql, p).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run_sqlite(args: argparse.Namespace) -> str:
    """The same lookups on SQLite, without and with the planner's statistics
    (``core.db.planner_stats``, which imports, the demo and ``regulars serve`` gather)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lookup.db"
        engine = make_engine(f"sqlite:///{path}")
        try:
            db_upgrade(engine)
        finally:
            engine.dispose()
        conn = sqlite3.connect(path)
        start = time.perf_counter()
        conn.executemany(
            "INSERT INTO store (code, name, is_demo) VALUES (?, ?, 0)",
            [(f"S{s:04d}", f"Store {s}") for s in range(1, args.stores + 1)],
        )
        conn.executemany(
            "INSERT INTO terminal (store_id, code, created_at) VALUES (?, ?, datetime('now'))",
            [(s, f"T{t:02d}") for s in range(1, args.stores + 1) for t in range(1, args.tills + 1)],
        )
        conn.execute(
            SQLITE_FILL, {"receipts": args.receipts, "till_count": args.stores * args.tills}
        )
        conn.commit()
        filled = time.perf_counter() - start
        store = conn.execute(
            "SELECT store_id FROM receipt GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
        step = max(1, args.receipts // args.repeat)
        found = [f"R{n}" for n in range(1, args.receipts + 1, step)][: args.repeat]
        missing = [f"X{n}" for n in range(args.repeat)]

        def measure(label: str, joins: tuple[str, str]) -> Row:
            # psycopg's named parameters as sqlite3's.
            search = SEARCH.format(join=joins[0]).replace("%(no)s", ":no")
            original = ORIGINAL.format(join=joins[1]).replace("%(no)s", ":no")
            original = original.replace("%(store)s", ":store")
            return (
                label,
                _sqlite_ms(conn, search, [{"no": n} for n in found]),
                _sqlite_ms(conn, search, [{"no": n} for n in missing]),
                _sqlite_ms(conn, original, [{"store": store, "no": n} for n in found]),
                _sqlite_ms(conn, original, [{"store": store, "no": n} for n in missing]),
            )

        before_join, after_join = JOINS.values()
        rows = [
            measure("before: by till id, no statistics", before_join),
            measure("by till id and store, no statistics", after_join),
        ]
        started = time.perf_counter()
        conn.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        conn.execute("ANALYZE")
        conn.commit()
        analysed = time.perf_counter() - started
        rows.append(measure("after: by till id and store, with statistics", after_join))
        conn.close()
    lines = [
        "",
        "### SQLite",
        "",
        f"The same receipts (filled in {filled:.0f} s), SQLite {sqlite3.sqlite_version}. Without "
        "statistics SQLite's planner guesses; `core.db.planner_stats` gathers them "
        f"(`ANALYZE` with `analysis_limit={SQLITE_ANALYSIS_LIMIT}`: {analysed * 1000:.0f} ms "
        "here) after every import, after the demo and when `regulars serve` starts.",
        "",
        *_table(rows, rows[0], rows[2]),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--receipts", type=int, default=2_000_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--tills", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "receipt_lookup.md"
    )
    args = parser.parse_args()
    text = run(args) + run_sqlite(args)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
