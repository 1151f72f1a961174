"""The mining job: read the receipts' baskets, mine rules on an engine, store a basket run.

One function (:func:`baskets_mine`) serves the scheduler, the CLI, the staff page and the
API. It owns its transactions, as the job runner does: the run is recorded as *running* and
committed, the baskets are read and that read transaction ended before mining starts (on
SQLite every transaction holds the write lock, and a till must not wait for FP-growth), and
the rules are stored and committed in a last short transaction.

The read is written here with SQLAlchemy Core rather than through ``analytics.extract``,
which reads every line's time, amounts and costs, every receipt and every member for the
nightly scores. Mining needs only which products each sale receipt holds, so the database
groups the lines itself: one row per receipt with its product ids joined into a string
(``group_concat`` on SQLite, ``string_agg`` on PostgreSQL), split again by Polars. That is
ten times fewer rows through the driver than reading the lines (measured in
``benchmarks/baskets.py``; letting Polars group (receipt, product) pairs read as plain
columns was slower on SQLite: the driver builds a Python tuple per line), and the period and
store filters run on the database's indexes. The read is a read-only transaction, so on
SQLite it holds no write lock while the tills record receipts. The rules are stored with one
``executemany`` (``baskets.service.run_finish``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Connection, String, cast, func, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from regulars.analytics.basket import BASKETS, Mined, mine_baskets
from regulars.baskets import rules as basket_rules
from regulars.baskets import service
from regulars.baskets.models import BasketRun
from regulars.baskets.schemas import MineIn
from regulars.catalog.models import Product
from regulars.core.config import get_settings
from regulars.core.db import READ_ONLY
from regulars.core.timeutil import local_day
from regulars.core.uow import UnitOfWork
from regulars.sales.models import Receipt, ReceiptLine

__all__ = [
    "baskets_mine",
    "baskets_mine_with",
    "baskets_miner",
    "baskets_refresh",
    "read_baskets",
    "read_products",
]


_READ: Mapping[str, bool] = {READ_ONLY: True}


def _day_start(day: date) -> datetime:
    """Midnight of a local day of the chain, in UTC."""
    return local_day(day, get_settings().timezone)[0]


def read_baskets(
    connection: Connection,
    *,
    period_from: date | None = None,
    period_to: date | None = None,
    store_id: int | None = None,
) -> pl.DataFrame:
    """One row per sale receipt of the period and store: its store and the products bought.

    Only lines with a positive quantity count (returns are receipts of their own kind and
    are left out). The period is in local days, both ends included.
    """
    # Driven by the receipts (scanned in id order, their lines found through the index on
    # (receipt_id, line_no)), the grouping needs no sort; min() keeps it portable.
    query = (
        select(
            Receipt.id,
            func.min(Receipt.store_id),
            func.aggregate_strings(cast(ReceiptLine.product_id, String), ","),
        )
        .join(ReceiptLine, ReceiptLine.receipt_id == Receipt.id)
        .where(Receipt.kind == "sale", type_coerce(ReceiptLine.quantity, BigInteger) > 0)
        .group_by(Receipt.id)
    )
    if period_from is not None:
        query = query.where(Receipt.occurred_at >= _day_start(period_from))
    if period_to is not None:
        query = query.where(Receipt.occurred_at < _day_start(period_to + timedelta(days=1)))
    if store_id is not None:
        query = query.where(Receipt.store_id == store_id)
    rows = connection.execute(query).all()
    raw = pl.DataFrame(
        rows,
        schema={"receipt_id": pl.Int64(), "store_id": pl.Int64(), "products": pl.String()},
        orient="row",
    )
    return raw.with_columns(pl.col("products").str.split(",").cast(BASKETS["products"]))


def _reading(uow: UnitOfWork) -> Connection:
    """The connection to read the baskets on: read-only when no transaction is open yet.

    On SQLite a read-only transaction takes no write lock, so the tills keep recording
    receipts while the baskets are read (a second or so on a large chain).
    """
    if uow.session.in_transaction():
        return uow.session.connection()
    return uow.session.connection(execution_options=_READ)


def read_products(connection: Connection) -> pl.DataFrame:
    """Each product's category and brand (what the category and brand levels group by)."""
    rows = connection.execute(select(Product.id, Product.category, Product.brand)).all()
    return pl.DataFrame(
        rows,
        schema={"product_id": pl.Int64(), "category": pl.String(), "brand": pl.String()},
        orient="row",
    )


def _mine(
    baskets: pl.DataFrame,
    products: pl.DataFrame,
    data: MineIn,
    *,
    engine: str,
    master: str | None,
    store_id: int | None,
) -> Mined:
    """Mine baskets already read for the period on the chosen engine."""
    if engine == "spark":
        # Imported here, not at the top: pyspark.ml pulls in pandas and takes seconds to
        # import, which every server and CLI start would pay for an engine few runs use.
        from regulars.analytics.engines.spark import spark_session
        from regulars.analytics.engines.spark_basket import mine_spark

        # Spark builds the baskets itself from lines: the ones read, one a product.
        lines = (
            baskets.explode("products")
            .rename({"products": "product_id"})
            .with_columns(pl.lit(1.0).alias("quantity"))
        )
        return mine_spark(
            spark_session(master or "local[2]"),
            lines,
            products,
            level=data.level,
            store_id=store_id,
            min_support=data.min_support,
            min_confidence=data.min_confidence,
            min_lift=data.min_lift,
            max_items=basket_rules.MAX_RULE_ITEMS,
            min_baskets=basket_rules.MIN_BASKETS,
        )
    return mine_baskets(
        baskets,
        products,
        level=data.level,
        store_id=store_id,
        min_support=data.min_support,
        min_confidence=data.min_confidence,
        min_lift=data.min_lift,
        max_items=basket_rules.MAX_RULE_ITEMS,
        min_baskets=basket_rules.MIN_BASKETS,
    )


def baskets_mine_with(
    uow: UnitOfWork,
    *,
    data: MineIn,
    baskets: pl.DataFrame,
    products: pl.DataFrame,
    engine: str = "local",
    master: str | None = None,
    started_by: str | None = None,
) -> BasketRun:
    """Mine baskets already read (for the period) for ``data``'s store; store the run.

    A failure is recorded on the run (status *failed* and the reason) and re-raised.
    """
    run = service.run_start(uow, data=data, engine=engine, started_by=started_by)
    run_id = run.id
    uow.commit()
    started = time.perf_counter()
    try:
        mined = _mine(baskets, products, data, engine=engine, master=master, store_id=data.store_id)
        run = service.run_finish(
            uow,
            run_id=run_id,
            rules=mined.rules,
            transactions=mined.transactions,
            itemsets=mined.itemsets.height,
            seconds=time.perf_counter() - started,
        )
        uow.commit()
    except Exception as exc:
        uow.rollback()
        service.run_fail(uow, run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        uow.commit()
        raise
    return run


def baskets_mine(
    uow: UnitOfWork,
    *,
    data: MineIn,
    engine: str = "local",
    master: str | None = None,
    started_by: str | None = None,
) -> BasketRun:
    """Read the receipts ``data`` asks for, mine them and store the run (committed)."""
    started = time.perf_counter()
    connection = _reading(uow)
    baskets = read_baskets(
        connection,
        period_from=data.period_from,
        period_to=data.period_to,
        store_id=data.store_id,
    )
    products = read_products(connection) if data.level != "product" else _NO_PRODUCTS
    uow.commit()  # ends the read: nothing is locked while mining
    read_seconds = time.perf_counter() - started
    run = baskets_mine_with(
        uow,
        data=data,
        baskets=baskets,
        products=products,
        engine=engine,
        master=master,
        started_by=started_by,
    )
    run.seconds = round((run.seconds or 0.0) + read_seconds, 3)
    uow.commit()
    return run


_NO_PRODUCTS = pl.DataFrame(
    schema={"product_id": pl.Int64(), "category": pl.String(), "brand": pl.String()}
)


def baskets_miner(
    session_factory: sessionmaker[Session], *, data: MineIn, started_by: str | None
) -> int:
    """Mine on the local engine in a unit of work of its own; the run id (for the pages)."""
    with UnitOfWork(session_factory) as uow:
        return baskets_mine(uow, data=data, started_by=started_by).id


def baskets_refresh(uow: UnitOfWork, day: date) -> dict[str, Any]:
    """The nightly job: the last 90 days up to ``day``, at product and category level.

    Mined for the whole chain at both levels, and at category level for each store that
    sold in the period (its shelf-adjacency report). The baskets are read once; old runs
    are pruned (the newest ten of each scope are kept).
    """
    period_from = day - timedelta(days=basket_rules.NIGHTLY_DAYS - 1)
    connection = _reading(uow)
    baskets = read_baskets(connection, period_from=period_from, period_to=day)
    products = read_products(connection)
    uow.commit()
    asks = [
        MineIn(level="product", period_from=period_from, period_to=day),
        MineIn(level="category", period_from=period_from, period_to=day),
    ]
    stores = sorted(int(s) for s in baskets["store_id"].unique().to_list() if s is not None)
    asks += [
        MineIn(level="category", period_from=period_from, period_to=day, store_id=store)
        for store in stores
    ]
    runs = [
        baskets_mine_with(uow, data=ask, baskets=baskets, products=products, started_by="scheduler")
        for ask in asks
    ]
    pruned = service.runs_prune(uow, keep=basket_rules.KEEP_RUNS)
    uow.commit()
    return {
        "runs": [run.id for run in runs],
        "rules": {f"{run.level}:{run.store_id or 'all'}": run.rules for run in runs},
        "pruned": pruned,
    }
