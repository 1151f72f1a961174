"""How the staff pages and API start a mining run without importing the layers above.

Mining reads receipts through analytics and runs in ``jobs`` (``jobs/baskets.py``), above
this domain; the entrypoints register it at start (``entrypoints/wiring.py``), as insights
does for its runs.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from regulars.baskets.schemas import MineIn
from regulars.core.errors import Conflict
from regulars.core.i18n import _


class Miner(Protocol):
    """Mine the receipts as asked and store the rules; return the run id."""

    def __call__(
        self, session_factory: sessionmaker[Session], *, data: MineIn, started_by: str | None
    ) -> int:
        """Run and store one mining run on the local engine."""
        ...


_miner: list[Miner] = []


def miner_register(miner: Miner) -> None:
    """Install the function that mines (done once by the entrypoints)."""
    _miner[:] = [miner]


def miner_get() -> Miner:
    """The installed miner, or a ``Conflict`` when the app was started without one."""
    if not _miner:
        raise Conflict(_("mining is not available in this process"))
    return _miner[0]
