"""Factories of the insights tests: shopping histories and stored runs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from regulars.core.uow import UnitOfWork
from regulars.insights import service
from regulars.insights.models import ScoreRun
from regulars.sales.schemas import ReceiptIn
from regulars.sales.service import receipt_record
from tests.factories.world import World

_numbers = itertools.count(1)
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def shop(
    uow: UnitOfWork,
    world: World,
    *,
    member: int | None,
    at: datetime,
    products: tuple[int, ...] = (0,),
    quantity: str = "1",
) -> int:
    """Record one receipt of ``products`` (indexes into the world's) for member index ``member``."""
    lines = []
    for index in products:
        product = world.products[index]
        price = product.unit_price
        assert price is not None
        lines.append(
            {
                "barcode": product.barcode,
                "quantity": quantity,
                "unit_price": str(price),
                "discount": "0",
                "amount": str(price * int(quantity)),
            }
        )
    payload: dict[str, Any] = {
        "receipt_no": f"R{next(_numbers):06d}",
        "occurred_at": at.isoformat(),
        "lines": lines,
    }
    if member is not None:
        payload["member"] = {"card_no": world.members[member].card_no}
    recorded = receipt_record(
        uow, store=world.store, terminal=world.terminal, data=ReceiptIn.model_validate(payload)
    )
    return int(recorded.answer["receipt_id"])


def history(uow: UnitOfWork, world: World, *, member: int, every_days: int, visits: int) -> None:
    """A regular rhythm of visits ending shortly before ``T0 + visits × every_days``."""
    for n in range(visits):
        shop(uow, world, member=member, at=T0 + timedelta(days=n * every_days), products=(0, 1))


def stored_run(
    uow: UnitOfWork, member_ids: list[int], *, segment: str = "champions", losers: int = 0
) -> ScoreRun:
    """A finished run with hand-made scores for ``member_ids``; the last ``losers`` of them
    lost money (profit −1, −2, … in lead), the rest earned 0, 1, 2 …"""
    kept = len(member_ids) - losers
    profits = [float(i) for i in range(kept)] + [-float(i + 1) for i in range(losers)]
    run = service.run_start(uow, as_of=T0, engine="local")
    scores = pl.DataFrame(
        {
            "member_id": member_ids,
            "recency_days": [3] * len(member_ids),
            "frequency": [10] * len(member_ids),
            "monetary": [123.456] * len(member_ids),
            "r_score": [5] * len(member_ids),
            "f_score": [5] * len(member_ids),
            "m_score": [4] * len(member_ids),
            "rfm_segment": [segment] * len(member_ids),
            "profit": profits,
            "tier": ["gold"] * kept + ["lead"] * losers,
            "loss_making": [False] * kept + [True] * losers,
            "churn_status": ["at_risk"] * len(member_ids),
            "p_alive": [0.8] * len(member_ids),
            "clv": [float("nan")] + [50.0] * (len(member_ids) - 1),
        }
    )
    signals = pl.DataFrame(
        {
            "member_id": member_ids[:1],
            "signal": ["baby"],
            "score": [0.9],
            "evidence": ["DIAPERS"],
        }
    )
    summary = {
        "members": len(member_ids),
        "segments": {segment: len(member_ids)},
        "tiers": [
            {
                "tier": "gold",
                "members": len(member_ids),
                "revenue": 10.0,
                "profit": 5.0,
                "profit_share": 1.0,
            }
        ],
        "pareto": [[0.0, 0.0], [0.5, 0.8], [1.0, 1.0]],
        "top20_share": 0.61,
        "loss_makers": losers,
        "churn": {"at_risk": len(member_ids)},
        "churn_trend": [
            {"month": "2025-12-01", "members": 0, "at_risk": 0, "churned": 0, "churn_rate": None},
            {"month": "2026-01-01", "members": 2, "at_risk": 1, "churned": 0, "churn_rate": 0.0},
        ],
        "clv": {"params": {"r": 0.2}, "histogram": [["0–50", 1]], "total": 50.0, "mean": 25.0},
        "signals": {"baby": 1},
    }
    return service.run_store(uow, run, scores=scores, signals=signals, summary=summary)
