"""The messages sent to a member, on their staff profile and in their data export.

The service desk is asked "did my sign-in code / my shopping list / my birthday offer
arrive?"; the answer is in the outbox (:mod:`regulars.notify`), which sits below the
members domain, so the members domain may read it and show it as a profile panel. The
panel is registered with the others in ``entrypoints/wiring.py``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.members.extensions import Panel
from regulars.notify.models import OutboxMessage
from regulars.notify.queries import outbox_of_member

# How many of the newest messages the panel lists (the API and CLI take a limit).
RECENT = 20


def message_row(message: OutboxMessage) -> dict[str, Any]:
    """A message as the service desk may see it: the recipient masked, the body left out.

    The row is built field by field rather than handing the template the table row, so the
    body (a sign-in code is a credential) cannot reach a page by a template's mistake.
    """
    return {
        "id": message.id,
        "created_at": message.created_at,
        "channel": message.channel,
        "recipient_masked": message.recipient_masked,
        "purpose": message.purpose,
        "status": message.status,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "sent_at": message.sent_at,
        "next_attempt_at": message.next_attempt_at,
    }


class MessagesExtension:
    """The member's recent messages on the staff profile, and their delivery in an export.

    Who sees the panel: everyone who may open the profile (``members.read``), though the
    outbox page itself is for admins only (``staff.manage``). The outbox page lists every
    member's messages; this panel lists only this member's, which are part of their
    profile like their receipts and points, and the service desk must see them to answer
    the member at the counter. The profile page view is audited (``profile_view``), so the
    panel writes no audit event of its own. The member's own page does not list it
    (``portal_web.MEMBER_PANELS``): a member reads their messages where they arrived.
    """

    key = "messages"

    def panel(
        self, uow: UnitOfWork, *, member_id: int, store_ids: Collection[int] | None = None
    ) -> Panel:
        """The member's newest messages; ``store_ids`` is ignored: a message belongs to no
        store (the outbox is chain-wide), so a store manager sees them as everyone does."""
        messages = outbox_of_member(uow.session, member_id=member_id, limit=RECENT)
        return Panel(
            key=self.key,
            title=_("Messages"),
            template="members/messages_panel.html",
            data={
                "rows": [message_row(m) for m in messages],
                "limit": RECENT,
                "member_id": member_id,
            },
        )

    def export(self, uow: UnitOfWork, *, member_id: int) -> list[dict[str, Any]]:
        """Every message queued for the member and how its delivery went, without bodies:
        what they said is in the export's lists, offers and points already, and a sign-in
        code must not be handed over in a file."""
        return [
            {
                **message_row(m),
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
                "subject": m.subject,
            }
            for m in outbox_of_member(uow.session, member_id=member_id, limit=100_000)
        ]
