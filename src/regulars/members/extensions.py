"""How later domains add to a member's profile page and data export without being imported.

The members domain sits low in the layers: receipts, points, lists and tickets refer to
members, not the other way round. A domain that has something to show on the profile or
to hand over in a PIPL export registers a :class:`ProfileExtension`; the entrypoints do
the registering when the app or CLI starts (``entrypoints/wiring.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from regulars.core.uow import UnitOfWork


@dataclass(frozen=True)
class Panel:
    """A section of the profile page: a title (catalogue id), a template and its data."""

    key: str
    title: str
    template: str
    data: dict[str, Any]


class ProfileExtension(Protocol):
    """What a domain contributes about one member."""

    key: str

    def panel(
        self, uow: UnitOfWork, *, member_id: int, store_ids: Collection[int] | None = None
    ) -> Panel:
        """The profile page section, as a reader limited to ``store_ids`` may see it
        (``None``: every store; ``staff.rules.store_scope``)."""
        ...

    def export(self, uow: UnitOfWork, *, member_id: int) -> Any:
        """The member's data held by this domain, as JSON-ready values."""
        ...


_registry: dict[str, ProfileExtension] = {}


def register(extension: ProfileExtension) -> None:
    """Add (or replace) a domain's contribution."""
    _registry[extension.key] = extension


def registered() -> list[ProfileExtension]:
    """The contributions in registration order."""
    return list(_registry.values())
