"""Tills replaying receipts and returns concurrently against a real server.

Every receipt is sent twice, in a shuffled order from eight concurrent clients, so replays
race with first sends; the database must end up with each receipt exactly once and every
till must get the same answer both times. Concurrent returns against one receipt must
never give back more than was bought.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from regulars.core.db import make_engine
from regulars.sales.models import Receipt, ReceiptLine
from tests.e2e.conftest import LiveTill

CLIENTS = 8
RECEIPTS = 1000

pytestmark = pytest.mark.slow


def _receipt(till: LiveTill, n: int, rng: random.Random) -> dict[str, Any]:
    """A receipt of one to six lines, every third one with a member card."""
    products = rng.sample(till.world.products, rng.randint(1, 6))
    lines = []
    for product in products:
        price = product.unit_price or Decimal("1")
        quantity = Decimal(rng.choice(["1", "2", "3", "0.455"]))
        discount = Decimal(rng.choice(["0", "0", "0.30"]))
        amount = (quantity * price - discount).quantize(Decimal("0.01"))
        lines.append(
            {
                "barcode": product.barcode,
                "quantity": str(quantity),
                "unit_price": str(price),
                "discount": str(discount),
                "amount": str(amount),
            }
        )
    total = sum(Decimal(line["amount"]) for line in lines)
    payload: dict[str, Any] = {
        "receipt_no": f"E2E-{n:05d}",
        "occurred_at": f"2026-11-20T{8 + n % 12:02d}:{n % 60:02d}:00+08:00",
        "cashier": f"c{n % 3}",
        "lines": lines,
        "payments": [{"method": "wechat_pay", "amount": str(total)}],
        "total": str(total),
    }
    if n % 3 == 0:
        member = till.world.members[n % len(till.world.members)]
        payload["member"] = {"card_no": member.card_no}
    return payload


def _send_all(base_url: str, jobs: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """POST every (path, api key, body) from ``CLIENTS`` threads, each with its own client."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=60)
            with lock:
                clients.append(local.client)
        return local.client  # type: ignore[no-any-return]

    def send(job: tuple[str, str, dict[str, Any]]) -> httpx.Response:
        path, key, body = job
        return client().post(path, json=body, headers={"X-Api-Key": key})

    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            return list(pool.map(send, jobs))
    finally:
        for each in clients:
            each.close()


def _in_db(url: str, read: Callable[[Any], Any]) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return read(conn)
    finally:
        engine.dispose()


def test_thousand_receipts_sent_twice_are_recorded_once(live_till: LiveTill) -> None:
    rng = random.Random(20261120)
    terminals = sorted(live_till.keys)
    receipts = [
        (live_till.keys[terminals[n % len(terminals)]], _receipt(live_till, n, rng))
        for n in range(RECEIPTS)
    ]
    # Both sends of every receipt, shuffled: some replays come long after the first send,
    # others race with it on another connection.
    order = [n for n in range(RECEIPTS) for _ in range(2)]
    rng.shuffle(order)
    answers = _send_all(
        live_till.base_url,
        [("/api/v1/receipts", receipts[n][0], receipts[n][1]) for n in order],
    )

    assert [a.text for a in answers if a.status_code >= 500] == []
    by_receipt: dict[int, list[httpx.Response]] = defaultdict(list)
    for n, answer in zip(order, answers, strict=True):
        by_receipt[n].append(answer)
    receipt_ids = set()
    for n, pair in by_receipt.items():
        statuses = sorted(a.status_code for a in pair)
        assert statuses == [200, 201], (n, [a.text for a in pair])
        first, replay = sorted(pair, key=lambda a: a.status_code, reverse=True)
        assert replay.json() == first.json()
        assert replay.headers.get("Idempotent-Replay") == "true"
        assert "Idempotent-Replay" not in first.headers
        body = first.json()
        assert body["receipt_no"] == receipts[n][1]["receipt_no"]
        assert Decimal(body["total"]) == Decimal(receipts[n][1]["total"])
        receipt_ids.add(body["receipt_id"])
    assert len(receipt_ids) == RECEIPTS

    expected_lines = sum(len(body["lines"]) for _key, body in receipts)

    def counts(conn: Any) -> tuple[int, int, dict[str, int]]:
        receipt_rows = conn.scalar(select(func.count()).select_from(Receipt))
        line_rows = conn.scalar(select(func.count()).select_from(ReceiptLine))
        per_no = dict(conn.execute(select(Receipt.receipt_no, Receipt.line_count)).all())
        return receipt_rows, line_rows, per_no

    receipt_rows, line_rows, per_no = _in_db(live_till.database_url, counts)
    assert receipt_rows == RECEIPTS
    assert line_rows == expected_lines
    assert per_no == {body["receipt_no"]: len(body["lines"]) for _key, body in receipts}


def test_concurrent_returns_never_exceed_what_was_bought(live_till: LiveTill) -> None:
    world = live_till.world
    key = live_till.keys["T01"]
    bought = {1: 5, 2: 3}
    lines = []
    for product, quantity in zip(world.products, bought.values(), strict=False):
        price = product.unit_price or Decimal("1")
        lines.append(
            {
                "barcode": product.barcode,
                "quantity": str(quantity),
                "unit_price": str(price),
                "amount": str(price * quantity),
            }
        )
    sale = {
        "receipt_no": "SALE-1",
        "occurred_at": "2026-11-20T10:00:00+08:00",
        "lines": lines,
    }
    first = httpx.post(
        f"{live_till.base_url}/api/v1/receipts", json=sale, headers={"X-Api-Key": key}
    )
    assert first.status_code == 201, first.text

    # Forty single-item returns, twice as many as were bought, from two tills, each sent
    # twice: a replay of an accepted return must not count twice either.
    rng = random.Random(7)
    returns = [
        (
            live_till.keys["T01" if n % 2 else "T02"],
            {
                "receipt_no": f"RET-{n:03d}",
                "occurred_at": "2026-11-20T11:00:00+08:00",
                "original_terminal": "T01",
                "original_receipt_no": "SALE-1",
                "lines": [{"line_no": 1 + n % 2, "quantity": "1"}],
            },
        )
        for n in range(40)
    ]
    order = [n for n in range(len(returns)) for _ in range(2)]
    rng.shuffle(order)
    answers = _send_all(
        live_till.base_url, [("/api/v1/returns", returns[n][0], returns[n][1]) for n in order]
    )

    assert [a.text for a in answers if a.status_code >= 500] == []
    accepted: Counter[int] = Counter()
    by_return: dict[int, list[httpx.Response]] = defaultdict(list)
    for n, answer in zip(order, answers, strict=True):
        by_return[n].append(answer)
    for n, pair in by_return.items():
        line_no = returns[n][1]["lines"][0]["line_no"]
        statuses = sorted(a.status_code for a in pair)
        if 201 in statuses:
            assert statuses == [200, 201], (n, [a.text for a in pair])
            assert pair[0].json() == pair[1].json()
            accepted[line_no] += 1
        else:
            for refused in pair:
                assert refused.status_code == 422, refused.text
                assert refused.json()["error"]["field"] == "lines[0].quantity"
    assert dict(accepted) == bought

    return_line = aliased(ReceiptLine)

    def returned(conn: Any) -> dict[int, Decimal]:
        rows = conn.execute(
            select(ReceiptLine.line_no, func.sum(return_line.quantity))
            .join(return_line, return_line.original_line_id == ReceiptLine.id)
            .group_by(ReceiptLine.line_no)
        ).all()
        return {int(line_no): -total for line_no, total in rows}

    assert _in_db(live_till.database_url, returned) == {k: Decimal(v) for k, v in bought.items()}
