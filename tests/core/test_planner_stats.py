"""SQLite's planner statistics: gathered after an import, and they make a receipt number
searched without its till probe the receipt key instead of scanning every receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from regulars.core.uow import UnitOfWork
from regulars.imports.service import import_file
from regulars.sales.models import Receipt
from regulars.sales.queries import receipt_find
from tests.factories.imports import write_table
from tests.factories.world import build_world

KEY_PROBE = "(store_id=? AND terminal_id=? AND receipt_no=?)"


def _search_plan(uow: UnitOfWork) -> str:
    """SQLite's plan of the receipt search by number alone (``sales.queries.receipt_find``)."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "FROM receipt JOIN store" in statement:
            seen.append((statement, parameters))

    engine = uow.session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        receipt_find(uow.session, receipt_no="R-77")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = seen[0]
    plan = uow.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return " | ".join(str(row[3]) for row in plan)


def test_an_import_gathers_the_statistics_that_make_a_search_probe_the_key(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    if uow.session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's autovacuum gathers its statistics")
    world = build_world(uow)
    code = world.products[0].barcode
    rows = [
        {
            "store": f"S{n % 4}",
            "terminal": f"T{n % 3}",
            "receipt_no": f"R-{n}",
            "occurred_at": f"2026-11-{1 + n % 28:02d}T10:00:00+08:00",
            "barcode": code,
            "quantity": "1",
            "unit_price": "1.00",
            "amount": "1.00",
        }
        for n in range(3000)
    ]
    import_file(uow, kind="receipts", data=write_table(tmp_path / "r.csv", rows), filename="r.csv")
    assert uow.session.scalar(select(func.count()).select_from(Receipt)) == 3000
    stats = uow.session.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'receipt'"))
    assert stats.scalar_one() > 0
    assert KEY_PROBE in _search_plan(uow)
