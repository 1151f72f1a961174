"""Fixtures of the basket tests: the beer-and-diapers shop with its five receipts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from regulars.baskets.suggest import index_reset
from regulars.core.uow import UnitOfWork
from tests.factories.baskets import LESSON, Shop, build_shop, record


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    """Each test starts with no cached suggestion index (ids repeat after a rollback)."""
    index_reset()
    yield
    index_reset()


@pytest.fixture
def shop(uow: UnitOfWork) -> Shop:
    """The lesson's products and its five baskets as receipts of the store's till."""
    made = build_shop(uow)
    record(uow, made, LESSON)
    uow.commit()
    return made
