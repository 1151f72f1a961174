"""Analytics tests are pure: no database. They share one Spark session (local[2])."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from regulars.analytics.engines.spark import spark_session

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here ``nodb``: the PostgreSQL pass of ./scripts/test skips them."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.nodb)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local[2] Spark session for the whole run."""
    session = spark_session("local[2]", app_name="regulars-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real datasets, read in place."""
    return DATA
