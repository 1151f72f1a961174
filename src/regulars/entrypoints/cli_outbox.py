"""Commands for the outbox: ``regulars outbox send|list``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.entrypoints import context
from regulars.entrypoints.cli_text import say
from regulars.notify.dispatch import outbox_dispatch
from regulars.notify.models import CHANNELS, STATUSES
from regulars.notify.queries import outbox_counts, outbox_recent

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
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 30,
) -> None:
    """The newest messages (recipients masked) and the totals by channel and status."""
    if status and status not in STATUSES:
        raise typer.BadParameter(
            say(_("one of {values}"), values=", ".join(STATUSES)), param_hint="--status"
        )
    if channel and channel not in CHANNELS:
        raise typer.BadParameter(
            say(_("one of {values}"), values=", ".join(CHANNELS)), param_hint="--channel"
        )
    with context.new_uow() as uow:
        rows = outbox_recent(uow.session, status=status, channel=channel, limit=limit)
        table = Table(
            "id",
            say(_("Created")),
            say(_("Channel")),
            say(_("To")),
            say(_("Purpose")),
            say(_("Status")),
            say(_("Tries")),
            say(_("Last error")),
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
