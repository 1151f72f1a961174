"""Lists built on frames make the same choices as the cycle job's matcher and ``choose``."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from regulars.analytics.list_building import LISTS, ListRules, build_lists, item_offers
from regulars.catalog.models import Product
from regulars.offers import rules
from regulars.offers.candidates import Matcher
from regulars.offers.models import Deal

BRANDS = ["acme", "brio", "cora", None]
CATEGORIES = ["dairy", "bakery", "snacks", "drinks", None]


def _world(seed: int) -> dict[str, Any]:
    """A random catalogue, deals, needs and budgets, in cents-exact decimals."""
    rnd = random.Random(seed)
    products = []
    for item in range(1, 61):
        price = None if item % 17 == 0 else Decimal(rnd.randint(0, 2000)) / 100
        products.append(
            Product(
                id=item,
                sku=str(item),
                brand=rnd.choice(BRANDS),
                category=rnd.choice(CATEGORIES),
                unit_price=price,
            )
        )
    deals = []
    for deal_id in range(1, 26):
        target = rnd.choice(["product", "brand", "category"])
        value = {
            "product": str(rnd.randint(1, 60)),
            "brand": rnd.choice(BRANDS[:-1]),
            "category": rnd.choice(CATEGORIES[:-1]),
        }[target]
        kind = rnd.choice(rules.KINDS)
        amount = {
            "percent": Decimal(rnd.randint(100, 6000)) / 100,
            "amount": Decimal(rnd.randint(5, 300)) / 100,
            "price": Decimal(rnd.randint(0, 1500)) / 100,
            "bxgy": Decimal("0"),
        }[kind]
        budget = rnd.choice([None, None, Decimal(rnd.randint(0, 500)) / 100])
        deals.append(
            Deal(
                id=deal_id,
                target=target,
                target_value=value,
                kind=kind,
                value=amount,
                buy_qty=rnd.randint(1, 3) if kind == "bxgy" else None,
                get_qty=rnd.randint(1, 2) if kind == "bxgy" else None,
                budget=budget,
                spent=Decimal("0")
                if budget is None
                else (budget * rnd.choice([0, 0, 1]) / 2).quantize(Decimal("0.01")),
                manufacturer_share=Decimal("0"),
            )
        )
    needs = []
    for user in range(1, 41):
        for item in rnd.sample(range(1, 61), rnd.randint(0, 25)):
            needs.append((user, item, rnd.choice([0.1, 0.2, 0.5, rnd.random()])))
    budgets = {user: Decimal(rnd.randint(0, 4000)) / 100 for user in range(1, 41)}
    return {"products": products, "deals": deals, "needs": needs, "budgets": budgets}


def _frames(world: dict[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    catalogue = pl.DataFrame(
        [
            (p.id, p.brand, p.category, None if p.unit_price is None else float(p.unit_price))
            for p in world["products"]
        ],
        schema=["item_id", "brand", "category", "unit_price"],
        orient="row",
    )
    deals = pl.DataFrame(
        [
            (
                d.id,
                d.target,
                d.target_value,
                d.kind,
                float(d.value),
                d.buy_qty,
                d.get_qty,
                None if d.budget is None else float(d.budget - d.spent),
            )
            for d in world["deals"]
        ],
        schema={
            "deal_id": pl.Int64,
            "target": pl.String,
            "target_value": pl.String,
            "kind": pl.String,
            "value": pl.Float64,
            "buy_qty": pl.Int64,
            "get_qty": pl.Int64,
            "budget_left": pl.Float64,
        },
        orient="row",
    )
    needs = pl.DataFrame(world["needs"], schema=["user_id", "item_id", "score"], orient="row")
    return catalogue, deals, needs


def _reference(world: dict[str, Any], settings: ListRules) -> list[tuple[Any, ...]]:
    """The lists as the cycle job makes them: Matcher.best, then rules.choose."""
    products = {p.id: p for p in world["products"]}
    matcher = Matcher(world["deals"], Decimal(str(settings.store_discount)))
    out = []
    for user, budget in world["budgets"].items():
        plans = []
        offers = {}
        for who, item, score in world["needs"]:
            if who != user:
                continue
            offer = matcher.best(products[item], store_fallback=True)
            if offer is None:
                continue
            offers[item] = offer
            plans.append(
                rules.Candidate(item, products[item].category, score, offer.discount, "r", {})
            )
        chosen = rules.choose(
            plans, length=settings.length, per_category=settings.per_category, budget=budget
        )
        for position, cand in enumerate(chosen, start=1):
            deal = offers[cand.product_id].deal
            out.append(
                (
                    user,
                    position,
                    cand.product_id,
                    None if deal is None else deal.id,
                    int(cand.discount * 100),
                )
            )
    return out


@pytest.mark.parametrize("seed", range(6))
def test_frames_choose_like_the_cycle_job(seed: int) -> None:
    world = _world(seed)
    catalogue, deals, needs = _frames(world)
    settings = ListRules(length=5, per_category=2, store_discount=[0.0, 5.0, 12.5][seed % 3])
    budgets = pl.DataFrame(
        [(u, float(b)) for u, b in world["budgets"].items()],
        schema=["user_id", "budget"],
        orient="row",
    )
    got = build_lists(needs, catalogue, deals, settings, budgets=budgets)
    assert got.columns == list(LISTS)
    mine = got.select("user_id", "position", "item_id", "deal_id", "discount_cents").rows()
    assert mine == _reference(world, settings)
    assert got.height > 20  # the world is rich enough to build real lists


def test_budget_skips_an_item_and_the_category_cap_holds() -> None:
    catalogue = pl.DataFrame(
        {
            "item_id": [1, 2, 3, 4],
            "brand": ["a", "a", "b", "b"],
            "category": ["dairy", "dairy", "dairy", "snacks"],
            "unit_price": [10.0, 3.0, 2.0, 1.0],
        }
    )
    deals = pl.DataFrame(
        {
            "deal_id": [7, 8],
            "target": ["category", "product"],
            "target_value": ["dairy", "1"],
            "kind": ["percent", "amount"],
            "value": [50.0, 1.0],
            "buy_qty": [None, None],
            "get_qty": [None, None],
            "budget_left": [None, 1.5],
        }
    )
    offers = item_offers(catalogue, deals, 0.0)
    # item 1: 50 % of 2 × 10 = 10.00 beats the product deal's 2.00 (capped at 1.50 anyway)
    assert offers.rows() == [
        (1, "dairy", 7, 1000),
        (2, "dairy", 7, 300),
        (3, "dairy", 7, 200),
    ]
    needs = pl.DataFrame(
        {"user_id": [5, 5, 5, 5], "item_id": [1, 2, 3, 4], "score": [0.9, 0.8, 0.7, 0.6]}
    )
    got = build_lists(
        needs, catalogue, deals, ListRules(per_category=2, budget=6.0, store_discount=0.0)
    )
    # item 1 (10.00) overruns the 6.00 budget and is skipped; 2 and 3 fill dairy's two places;
    # item 4 has no deal and no store discount
    assert got["item_id"].to_list() == [2, 3]
    assert got["position"].to_list() == [1, 2]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_builds_the_same_lists(spark: Any) -> None:
    from regulars.analytics.engines.spark_lists import build_lists_spark

    for seed in (0, 1):
        world = _world(seed)
        catalogue, deals, needs = _frames(world)
        budgets = pl.DataFrame(
            [(u, float(b)) for u, b in world["budgets"].items()],
            schema=["user_id", "budget"],
            orient="row",
        )
        settings = ListRules(length=5, per_category=2, store_discount=5.0 * seed)
        local = build_lists(needs, catalogue, deals, settings, budgets=budgets)
        distributed = build_lists_spark(
            spark,
            spark.createDataFrame(needs.to_arrow()),
            catalogue,
            deals,
            settings,
            budgets=spark.createDataFrame(budgets.to_arrow()),
            partitions=3,
        )
        assert distributed.equals(local)
        assert local.height > 20
