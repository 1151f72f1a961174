"""Two imports of the same file at once take turns: each row is loaded by one of them and
found unchanged by the other.

Each import runs in its own connection and commits batch by batch, as the CLI and the
staff page do. Without the turns (``bulk.import_turn``) the second one looked for recorded
rows before the first had written them, then failed on a unique key (a new store, a
receipt); now it reports every row unchanged. Runs on both databases.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from regulars.catalog.models import Store
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk
from regulars.imports import members as members_import
from regulars.imports import receipts as receipts_import
from regulars.imports import service as import_service
from regulars.imports.formats import Kind
from regulars.imports.models import ImportRun
from regulars.imports.service import import_file
from regulars.imports.web import execute_queued
from regulars.members.models import Member
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.imports import write_table
from tests.factories.world import build_world, ean13

RECEIPTS = 40


def _receipt_rows() -> list[dict[str, object]]:
    """Receipts at three stores the database does not know yet (the import creates them)."""
    return [
        {
            "store": f"C{n % 3:03d}",
            "terminal": "T01",
            "receipt_no": f"R{n:04d}",
            "occurred_at": f"2026-11-{1 + n % 20:02d}T10:15:00+08:00",
            "barcode": ean13(1 + n % 3),
            "quantity": "1",
            "unit_price": "2.00",
            "discount": "0",
            "amount": "2.00",
        }
        for n in range(RECEIPTS)
        for _line in range(2)
    ]


def _member_rows() -> list[dict[str, object]]:
    return [
        {"card_no": f"CC{n:06d}", "mobile": f"1390001{n:04d}", "name": f"M{n}"}
        for n in range(RECEIPTS)
    ]


def _shared(runs: list[tuple[int, int, int]], rows: int) -> bool:
    """Every row was loaded by exactly one run and found unchanged by the other."""
    return all(loaded + unchanged == rows and bad == 0 for loaded, unchanged, bad in runs) and (
        sum(loaded for loaded, _u, _b in runs) == rows
    )


def _both_at_once(
    factory: sessionmaker[Session], kind: Kind, path: Path
) -> list[tuple[int, int, int]]:
    """Import ``path`` twice at once; each run's (loaded, unchanged, bad), sorted."""
    start = threading.Barrier(2)

    def one(_n: int) -> tuple[int, int, int]:
        with UnitOfWork(factory) as uow:
            start.wait()
            run, _ = import_file(
                uow, kind=kind, data=path, filename=path.name, checkpoint=uow.commit
            )
            uow.commit()
            return run.rows_loaded, run.rows_unchanged, run.rows_bad

    with ThreadPoolExecutor(2) as pool:
        return sorted(pool.map(one, range(2)))


@pytest.mark.slow
def test_two_imports_of_one_file_at_once_take_turns(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so the two runs' batches interleave.
    monkeypatch.setitem(receipts_import.BATCH_RECEIPTS, "postgresql", 7)
    monkeypatch.setitem(receipts_import.BATCH_RECEIPTS, "sqlite", 7)
    monkeypatch.setattr(members_import, "BATCH", 7)
    engine = make_engine(fresh_database, pool_size=4)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            build_world(uow)
            uow.commit()
            members_before = uow.session.scalar(select(func.count()).select_from(Member))
        people = write_table(tmp_path / "people.csv", _member_rows())
        assert _shared(_both_at_once(factory, "members", people), RECEIPTS)
        sales = write_table(tmp_path / "sales.csv", _receipt_rows())
        lines = 2 * RECEIPTS
        assert _shared(_both_at_once(factory, "receipts", sales), lines)
        with UnitOfWork(factory) as uow:
            count = uow.session.scalar
            assert count(select(func.count()).select_from(Member)) == members_before + RECEIPTS
            assert count(select(func.count()).select_from(Receipt)) == RECEIPTS
            assert count(select(func.count()).select_from(ReceiptLine)) == lines
            assert count(select(func.count()).where(Store.code.like("C0%"))) == 3
    finally:
        engine.dispose()


def test_a_queued_run_says_it_waits_for_another_imports_turn(
    fresh_database: str, tmp_path: Path
) -> None:
    if not fresh_database.startswith("postgresql"):
        pytest.skip("PostgreSQL only: on SQLite a run waits for the write lock, unreported")
    engine = make_engine(fresh_database, pool_size=4)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            build_world(uow)
            path = write_table(tmp_path / "people.csv", _member_rows())
            run = import_service.run_queue(
                uow,
                kind="members",
                filename="people.csv",
                content=path.read_bytes(),
                actor="test",
            )
            uow.commit()
            run_id = run.id

        def status() -> str:
            with UnitOfWork(factory) as uow:
                return uow.session.get_one(ImportRun, run_id).status

        with engine.connect() as holder:  # another import's batch, holding the turn
            holder.execute(select(func.pg_advisory_lock(bulk.IMPORT_LOCK)))
            worker = threading.Thread(target=execute_queued, args=(factory, run_id))
            worker.start()
            deadline = time.monotonic() + 30
            while status() != "waiting":
                assert time.monotonic() < deadline and worker.is_alive(), status()
                time.sleep(0.05)
            holder.execute(select(func.pg_advisory_unlock(bulk.IMPORT_LOCK)))
            holder.commit()
        worker.join(30)
        assert status() == "done"
        with UnitOfWork(factory) as uow:
            assert uow.session.get_one(ImportRun, run_id).rows_loaded == RECEIPTS
    finally:
        engine.dispose()
