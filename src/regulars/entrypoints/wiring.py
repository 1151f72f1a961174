"""Explicit wiring of cross-domain extensions, done once by the app and the CLI at start."""

from __future__ import annotations

from regulars.baskets.runner import miner_register
from regulars.insights.runner import runner_register
from regulars.insights.web import InsightsExtension
from regulars.jobs.analytics import analytics_run
from regulars.jobs.baskets import baskets_miner
from regulars.loyalty.service import member_merge_hook
from regulars.loyalty.web import PointsExtension
from regulars.members import extensions
from regulars.members import service as members_service
from regulars.members.messages import MessagesExtension
from regulars.offers.web import ListsExtension
from regulars.sales.web import ReceiptsExtension


def wire() -> None:
    """Register every domain's contribution to the member profile and export."""
    extensions.register(ReceiptsExtension())
    extensions.register(PointsExtension())
    extensions.register(InsightsExtension())
    extensions.register(ListsExtension())
    extensions.register(MessagesExtension())
    members_service.merge_hook_register(member_merge_hook)
    runner_register(analytics_run)
    miner_register(baskets_miner)
