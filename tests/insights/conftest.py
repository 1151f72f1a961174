"""Fixtures of the insights tests."""

from __future__ import annotations

import pytest

from regulars.core.uow import UnitOfWork
from tests.factories.world import World, build_world


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    """A store, a till, five products, four members and staff tokens."""
    return build_world(uow, members=4)
