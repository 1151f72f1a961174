"""Commands for the outbox: ``regulars outbox send|list``.

``list --member ID`` answers the service desk's "did my code arrive?" for one member; like
every read of a member from the command line it is audited (actor and page ``cli``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.schemas import MAX_ID
from regulars.core.templating import local_time
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
from regulars.members.queries import member_get
from regulars.notify.dispatch import outbox_dispatch
from regulars.notify.models import CHANNELS, STATUSES
from regulars.notify.queries import outbox_counts, outbox_recent
from regulars.staff.audit import audit_record

console = Console()
outbox_app = typer.Typer(
    help="Messages to members (sign-in codes, lists, birthday offers): send and inspect.",
    no_args_is_help=True,
)


@outbox_app.command("send")
def send(limit: Annotated[int, typer.Option(min=1, max=100_000)] = 500) -> None:
    """Send what is due now through SMTP and the SMS gateway (REGULARS_SMTP_*, _SMS_*)."""
    counts = outbox_dispatch(context.session_factory(), limit=limit)
    console.print(
        say(
            _("sent {sent}, to retry {retry}, failed {failed}, waiting for a transport {waiting}"),
            **counts,
        )
    )


@outbox_app.command("list")
def show(
    status: Annotated[str | None, typer.Option(help=", ".join(STATUSES))] = None,
    channel: Annotated[str | None, typer.Option(help=", ".join(CHANNELS))] = None,
    member: Annotated[
        int | None, typer.Option("--member", min=1, max=MAX_ID, help="member id")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 30,
) -> None:
    """The newest messages (recipients masked) and the totals by channel and status;
    ``--member`` keeps one member's messages (audited as a read of the member)."""
    if status and status not in STATUSES:
        raise typer.BadParameter(
            say(_("one of {values}"), values=", ".join(STATUSES)), param_hint="--status"
        )
    if channel and channel not in CHANNELS:
        raise typer.BadParameter(
            say(_("one of {values}"), values=", ".join(CHANNELS)), param_hint="--channel"
        )
    with context.new_uow() as uow:
        if member is not None:
            try:
                member_get(uow.session, member_id=member)
            except DomainError as exc:
                fail(exc)
        rows = outbox_recent(
            uow.session, status=status, channel=channel, member_id=member, limit=limit
        )
        if member is not None:
            audit_record(uow, actor="cli", action="messages_view", member_id=member, page="cli")
            uow.commit()
        table = Table(
            "id",
            fold(say(_("Created"))),
            fold(say(_("Channel"))),
            fold(say(_("To"))),
            fold(say(_("Purpose"))),
            fold(say(_("Status"))),
            fold(say(_("Tries"))),
            fold(say(_("Last error"))),
        )
        for m in rows:
            table.add_row(
                str(m.id),
                local_time(m.created_at, "%Y-%m-%d %H:%M"),
                say(label(m.channel)),
                m.recipient_masked,
                say(label(m.purpose)),
                say(label(m.status)),
                str(m.attempts),
                m.last_error or "",
            )
        totals = outbox_counts(uow.session)
    console.print(table)
    console.print(
        ", ".join(f"{say(label(c))} {say(label(s))}: {n}" for (c, s), n in sorted(totals.items()))
        or say(_("the outbox is empty"))
    )
