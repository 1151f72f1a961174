"""Explicit wiring of cross-domain extensions, done once by the app and the CLI at start."""

from __future__ import annotations

from regulars.members import extensions
from regulars.sales.web import ReceiptsExtension


def wire() -> None:
    """Register every domain's contribution to the member profile and export."""
    extensions.register(ReceiptsExtension())
