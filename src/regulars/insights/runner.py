"""How the staff pages and API start an analytics run without importing the layers above.

The run itself (extract, analyses, store) lives in ``jobs``, above analytics; this domain
sits below it. The entrypoints register the runner at start (``entrypoints/wiring.py``).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from regulars.core.errors import Conflict
from regulars.core.i18n import _


class Runner(Protocol):
    """Run the analytics on the current data and return the run id."""

    def __call__(
        self, session_factory: sessionmaker[Session], *, engine: str, started_by: str | None
    ) -> int:
        """Run and store one snapshot."""
        ...


_runner: list[Runner] = []


def runner_register(runner: Runner) -> None:
    """Install the function that runs analytics (done once by the entrypoints)."""
    _runner[:] = [runner]


def runner_get() -> Runner:
    """The installed runner, or a ``Conflict`` when the app was started without one."""
    if not _runner:
        raise Conflict(_("analytics runs are not available in this process"))
    return _runner[0]
