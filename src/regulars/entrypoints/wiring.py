"""Explicit wiring of cross-domain extensions, done once by the app and the CLI at start."""

from __future__ import annotations

from regulars.insights.web import InsightsExtension
from regulars.loyalty.service import member_merge_hook
from regulars.loyalty.web import PointsExtension
from regulars.members import extensions
from regulars.members import service as members_service
from regulars.sales.web import ReceiptsExtension


def wire() -> None:
    """Register every domain's contribution to the member profile and export."""
    extensions.register(ReceiptsExtension())
    extensions.register(PointsExtension())
    extensions.register(InsightsExtension())
    members_service.merge_hook_register(member_merge_hook)
