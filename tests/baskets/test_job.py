"""The nightly job and the ``regulars baskets`` commands."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from regulars.baskets import queries
from regulars.baskets.schemas import MineIn
from regulars.core import config as config_module
from regulars.core.crypto import reset_cipher
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.cli import app
from regulars.jobs.baskets import baskets_mine
from regulars.jobs.registry import JOBS, job_run
from tests.factories.baskets import LESSON, Shop, build_shop, other_store, record


def test_nightly_job_mines_products_categories_and_each_store(uow, shop: Shop) -> None:
    assert "baskets-refresh" in JOBS
    store, terminal = other_store(uow)
    record(uow, shop, [["beer", "milk"], ["milk", "bread"]], store=store, terminal=terminal)
    uow.commit()
    run = job_run(uow, name="baskets-refresh", day=date(2026, 11, 22))
    assert run is not None and run.status == "done", run.result if run else None
    assert len(run.result["runs"]) == 4  # product and category for the chain, category per store
    product = queries.run_active(uow.session, level="product")
    assert product is not None and product.transactions == 7
    assert product.period_from == date(2026, 8, 25) and product.period_to == date(2026, 11, 22)
    own = queries.run_active(uow.session, level="category", store_id=store.id)
    assert own is not None and own.store_id == store.id and own.transactions == 2
    # a day whose 90-day window holds no receipt gives empty runs, not an error
    later = job_run(uow, name="baskets-refresh", day=date(2027, 6, 1))
    assert later is not None and later.status == "done"
    assert queries.run_active(uow.session, level="product").transactions == 0


@pytest.fixture
def cli_db(fresh_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("REGULARS_DATABASE_URL", fresh_database)
    config_module.get_settings.cache_clear()
    context.engine.cache_clear()
    engine = make_engine(fresh_database)
    with UnitOfWork(make_session_factory(engine)) as uow:
        shop = build_shop(uow)
        record(uow, shop, LESSON)
        uow.commit()
    engine.dispose()
    yield fresh_database
    reset_cipher()
    context.engine().dispose()
    context.engine.cache_clear()
    config_module.get_settings.cache_clear()


def test_cli_mine_rules_and_export(cli_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    mined = runner.invoke(
        app,
        [
            "baskets",
            "mine",
            "--level",
            "category",
            "--support",
            "0.2",
            "--confidence",
            "0.5",
            "--lift",
            "0",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--store",
            "S001",
        ],
    )
    assert mined.exit_code == 0, mined.output
    assert "5 baskets" in mined.output
    # the run was mined for one store: the chain has no category run of its own
    chain = runner.invoke(app, ["baskets", "rules", "--level", "category"])
    assert chain.exit_code == 1
    shown = runner.invoke(
        app,
        [
            *("baskets", "rules", "--level", "category", "--store", "S001", "--item", "Beer"),
            *("--order", "support", "--limit", "2"),
        ],
    )
    assert shown.exit_code == 0, shown.output
    # beer ⇔ diapers (support 0.6, confidence 0.75 both ways) and beer ⇔ milk; rules seen in
    # one basket only are not kept
    assert "4 rules" in shown.output
    assert shown.output.count("0.6000") == 2 and shown.output.count("0.750") == 2
    out = tmp_path / "rules.csv"
    exported = runner.invoke(
        app,
        [
            "baskets",
            "export",
            str(out),
            "--level",
            "category",
            "--store",
            "S001",
            "--min-lift",
            "1.2",
        ],
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert rows and all(float(r["lift"]) >= 1.2 for r in rows)
    unknown = runner.invoke(app, ["baskets", "mine", "--store", "NOPE"])
    assert unknown.exit_code == 1
    bad = runner.invoke(app, ["baskets", "mine", "--support", "0"])
    assert bad.exit_code == 2


def test_the_baskets_are_read_without_the_write_lock(cli_db: str) -> None:
    engine = make_engine(cli_db)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _k, sql, *_a: seen.append(sql))
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            run = baskets_mine(uow, data=MineIn(level="product", min_support=0.2))
    finally:
        engine.dispose()
    assert run.status == "done" and run.transactions == 5
    read = next(i for i, sql in enumerate(seen) if "receipt_line" in sql)
    begun = [sql for sql in seen[:read] if sql.upper().startswith("BEGIN")]
    if cli_db.startswith("sqlite"):
        assert begun == ["BEGIN"]  # deferred: tills keep writing while the baskets are read
        assert "BEGIN IMMEDIATE" in seen[read:]  # the run and its rules are written as usual
    else:
        assert not any("IMMEDIATE" in sql for sql in seen)
