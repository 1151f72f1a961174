"""Commands for the outbox: ``regulars outbox send|list``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.entrypoints import context
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
        f"sent {counts['sent']}, to retry {counts['retry']}, failed {counts['failed']},"
        f" waiting for a transport {counts['waiting']}"
    )


@outbox_app.command("list")
def show(
    status: Annotated[str | None, typer.Option(help=", ".join(STATUSES))] = None,
    channel: Annotated[str | None, typer.Option(help=", ".join(CHANNELS))] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 30,
) -> None:
    """The newest messages (recipients masked) and the totals by channel and status."""
    if status and status not in STATUSES:
        raise typer.BadParameter(f"one of {', '.join(STATUSES)}", param_hint="--status")
    if channel and channel not in CHANNELS:
        raise typer.BadParameter(f"one of {', '.join(CHANNELS)}", param_hint="--channel")
    with context.new_uow() as uow:
        rows = outbox_recent(uow.session, status=status, channel=channel, limit=limit)
        table = Table("id", "created", "channel", "to", "purpose", "status", "tries", "error")
        for m in rows:
            table.add_row(
                str(m.id),
                m.created_at.strftime("%Y-%m-%d %H:%M"),
                m.channel,
                m.recipient_masked,
                m.purpose,
                m.status,
                str(m.attempts),
                m.last_error or "",
            )
        totals = outbox_counts(uow.session)
    console.print(table)
    console.print(
        ", ".join(f"{c} {s}: {n}" for (c, s), n in sorted(totals.items())) or "the outbox is empty"
    )
