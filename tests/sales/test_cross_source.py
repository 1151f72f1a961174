"""One checkout that reaches Regulars both from its till and in a file is recorded once.

A till's replay and a file's rerun are each told apart by their own hash; these tests
cross the two ways: a day's file imported after its till sent the receipts, and a till
replaying, after an outage, receipts already imported from its journal. The same
checkout is a replay (200, the receipt's answer) or an unchanged row; other content is
still a conflict. A till writing a receipt while an import writes the same key (the
import's write waits, then meets the key) makes the import look again, not fail.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk
from regulars.imports import receipts as receipts_import
from regulars.imports.service import import_file
from regulars.sales import content
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.imports import errors_by_line, write_table
from tests.factories.world import World, build_world, receipt_payload


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow)


def _file_rows(payload: dict[str, Any], world: World) -> list[dict[str, object]]:
    """The receipt of ``payload`` as a receipts file names it (one row per line)."""
    member = payload.get("member")
    payments = payload.get("payments") or []
    return [
        {
            "store": "S001",
            "terminal": "T01",
            "receipt_no": payload["receipt_no"],
            "occurred_at": payload["occurred_at"],
            "cashier": payload.get("cashier"),
            "member_card": member["card_no"] if member else None,
            "barcode": line["barcode"],
            "quantity": line["quantity"],
            "unit_price": line["unit_price"],
            "discount": line["discount"],
            "amount": line["amount"],
            "payment_method": payments[0]["method"] if payments else None,
        }
        for line in payload["lines"]  # type: ignore[union-attr]
    ]


def _import(uow: UnitOfWork, path: Path, rows: list[dict[str, object]]) -> Any:
    write_table(path, rows)
    return import_file(uow, kind="receipts", data=path, filename=path.name)


def _counts(uow: UnitOfWork) -> tuple[int, int]:
    return tuple(  # type: ignore[return-value]
        int(uow.session.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Receipt, ReceiptLine)
    )


@pytest.mark.parametrize("member", [True, False])
def test_a_file_of_receipts_its_till_sent_leaves_them_unchanged(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path, member: bool
) -> None:
    sent = receipt_payload(world, "X-1", member=member)
    other = receipt_payload(world, "X-2", member=member)
    for payload in (sent, other):
        assert (
            client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
        )
    before = _counts(uow)
    changed = _file_rows(other, world)
    changed[0]["quantity"], changed[0]["amount"] = (
        "3",
        str(Decimal(str(changed[0]["unit_price"])) * 3 - Decimal("0.50")),
    )
    run, outcome = _import(uow, tmp_path / "day.csv", _file_rows(sent, world) + changed)
    assert (run.rows_loaded, run.rows_unchanged, run.rows_bad) == (0, 2, 2)
    assert _counts(uow) == before
    assert {line: [c for c, _r in e] for line, e in errors_by_line(outcome).items()} == {
        4: ["receipt_no"],
        5: ["receipt_no"],
    }


@pytest.mark.parametrize("member", [True, False])
def test_a_till_replaying_an_imported_receipt_gets_its_answer(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path, member: bool
) -> None:
    payload = receipt_payload(world, "J-1", member=member)
    run, _o = _import(uow, tmp_path / "journal.csv", _file_rows(payload, world))
    assert run.rows_loaded == 2
    imported = uow.session.scalars(select(Receipt).where(Receipt.receipt_no == "J-1")).one()
    assert imported.response == {}  # an imported receipt keeps no till answer
    before = _counts(uow)
    replay = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replay"] == "true"
    body = replay.json()
    assert body["receipt_id"] == imported.id and body["receipt_no"] == "J-1"
    assert (body["store"], body["terminal"]) == ("S001", "T01")
    assert Decimal(body["total"]) == imported.total and body["line_count"] == 2
    assert body["member_id"] == (world.members[0].id if member else None)
    assert body["points_earned"] == 0  # imported receipts earn no points
    assert _counts(uow) == before


def test_a_till_sending_other_content_under_an_imported_key_is_409(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path
) -> None:
    payload = receipt_payload(world, "J-2")
    _import(uow, tmp_path / "journal.csv", _file_rows(payload, world))
    before = _counts(uow)
    fewer = receipt_payload(world, "J-2", lines=1)
    other_cashier = {**payload, "cashier": "c99"}
    no_member = receipt_payload(world, "J-2", member=False)
    for changed in (fewer, other_cashier, no_member):
        answer = client.post("/api/v1/receipts", json=changed, headers=world.till())
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["field"] == "receipt_no"
    assert _counts(uow) == before


def test_two_imports_and_tills_keep_their_own_hash(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path
) -> None:
    """Between receipts of one way the hash still decides (a till's new payment reference
    is other content, as before)."""
    payload = receipt_payload(world, "H-1")
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    referenced = {
        **payload,
        "payments": [{**payload["payments"][0], "reference": "TXN-9"}],  # type: ignore[index]
    }
    assert client.post("/api/v1/receipts", json=referenced, headers=world.till()).status_code == 409


@pytest.mark.parametrize("retries", [receipts_import.KEY_RETRIES, 0])
def test_an_import_meeting_a_key_a_till_takes_meanwhile_looks_again(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    """With no look again allowed, the import fails on the key rather than loop."""
    monkeypatch.setattr(receipts_import, "KEY_RETRIES", retries)
    if not fresh_database.startswith("postgresql"):
        pytest.skip("PostgreSQL only: on SQLite an import's batch holds the write lock")
    engine = make_engine(fresh_database, pool_size=4)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            world = build_world(uow)
            uow.commit()
        raced = receipt_payload(world, "RACE-1")
        alone = receipt_payload(world, "RACE-2")
        path = write_table(
            tmp_path / "race.csv", _file_rows(raced, world) + _file_rows(alone, world)
        )
        result: dict[str, Any] = {}

        def run_import() -> None:
            try:
                with UnitOfWork(factory) as uow:
                    run, _o = import_file(uow, kind="receipts", data=path, filename=path.name)
                    uow.commit()
                    result["counts"] = (run.rows_loaded, run.rows_unchanged, run.rows_bad)
            except bulk.KeyTaken as exc:
                result["failed"] = exc

        with engine.connect() as till:
            # The till's receipt, written but not committed: the import does not see it
            # when it looks, and its write waits for the till's transaction.
            store_id, terminal_id = till.execute(
                text("SELECT store_id, id FROM terminal WHERE code = 'T01'")
            ).one()
            till.execute(
                text(
                    "INSERT INTO receipt (store_id, terminal_id, receipt_no, kind, occurred_at,"
                    " total, discount_total, line_count, payments, content_hash, response,"
                    " source, recorded_at) VALUES (:s, :t, 'RACE-1', 'sale', now(), 0, 0, 0,"
                    " '[]', 'till-hash', '{}', 'till', now())"
                ),
                {"s": store_id, "t": terminal_id},
            )
            worker = threading.Thread(target=run_import)
            worker.start()
            deadline = time.monotonic() + 30
            while not _waiting_on_a_transaction(engine):
                assert time.monotonic() < deadline and worker.is_alive()
                time.sleep(0.05)
            till.commit()
        worker.join(30)
        if not retries:
            assert "RACE-1" in str(result["failed"]) and "counts" not in result
            return
        # The till's receipt differs (no lines): RACE-1's two lines are a conflict, and
        # RACE-2 is written, in the same batch, once the import has looked again.
        assert result["counts"] == (2, 0, 2)
        with UnitOfWork(factory) as uow:
            kept = uow.session.execute(
                select(Receipt.receipt_no, Receipt.source).order_by(Receipt.receipt_no)
            ).all()
            assert [tuple(r) for r in kept] == [("RACE-1", "till"), ("RACE-2", "import")]
    finally:
        engine.dispose()


def _waiting_on_a_transaction(engine: Engine) -> bool:
    """Whether a backend waits for a transaction's lock (the import's COPY). Asked on a
    connection of its own: a transaction sees one snapshot of ``pg_stat_activity``."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND wait_event = 'transactionid' AND datname = current_database()"
                )
            ).scalar()
        )


def test_key_guard_passes_other_errors_through(uow: UnitOfWork) -> None:
    with pytest.raises(ZeroDivisionError), bulk.key_guard(uow):
        _ = 1 / 0


def test_stored_contents_reads_many_receipts_a_chunk_at_a_time(
    client: Any, uow: UnitOfWork, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = []
    for n in range(3):
        payload = receipt_payload(world, f"CH-{n}", member=n % 2 == 0, lines=1 + n)
        answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
        ids.append(answer.json()["receipt_id"])
    whole = content.stored_contents(uow, ids)
    monkeypatch.setattr(content, "CHUNK", 2)
    assert content.stored_contents(uow, ids) == whole
    assert [len(whole[i].lines) for i in ids] == [1, 2, 3]
    assert whole[ids[0]].member_id == world.members[0].id and whole[ids[1]].member_id is None
