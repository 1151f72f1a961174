"""Members on the command line beyond find/show/register/merge: change a profile, grant or
withdraw a consent, and read a member's consent history.

The same services as the profile page and ``PATCH /api/v1/members/{id}``, audited the
same way (actor ``cli``). Headings and messages are catalogue messages, printed in the
configured language (``REGULARS_DEFAULT_LOCALE``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import assignments, say
from regulars.members import queries, service
from regulars.members.schemas import ConsentIn, MemberUpdate
from regulars.staff.audit import audit_record

console = Console()

# Fields that hold lists: given on the command line as comma-separated values.
_LIST_FIELDS = frozenset(
    name for name, field in MemberUpdate.model_fields.items() if "list[" in str(field.annotation)
)


def _changes(pairs: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as the fields of a :class:`MemberUpdate`.

    An empty value clears the field; list fields take comma-separated values. Unknown
    fields and pairs without ``=`` are refused, naming them.
    """
    changes: dict[str, Any] = {}
    for name, value in assignments(pairs, MemberUpdate.model_fields):
        if name in _LIST_FIELDS:
            changes[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            changes[name] = value or None
    return changes


def members_update(
    member_id: Annotated[int, typer.Argument(help="member id", min=1)],
    assignments: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="FIELD=VALUE, repeatable; e.g. name=王芳, birthday=1985-04-02,"
            " hobbies=cooking,running, household_size=3; an empty value clears the field",
        ),
    ],
) -> None:
    """Change a member's basic, special or household data (only the fields given)."""
    try:
        data = MemberUpdate.model_validate(_changes(assignments))
    except ValidationError as exc:
        fail(exc, code=2)
    with context.new_uow() as uow:
        try:
            service.member_update(uow, member_id=member_id, data=data)
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="member_update",
            member_id=member_id,
            page="cli",
            detail={"fields": sorted(data.model_fields_set)},
        )
        uow.commit()
    console.print(
        say(
            _("member {id} changed: {fields}"),
            id=member_id,
            fields=", ".join(sorted(data.model_fields_set)),
        )
    )


def members_consent(
    member_id: Annotated[int, typer.Argument(help="member id", min=1)],
    purpose: Annotated[str, typer.Argument(help="marketing, analytics or personalised_offers")],
    channel: Annotated[str, typer.Argument(help="sms, email, wechat or post")],
    granted: Annotated[bool, typer.Option("--grant/--withdraw", help="grant or withdraw")],
    note: Annotated[str | None, typer.Option(help="what the member said, where")] = None,
) -> None:
    """Record a member's grant or withdrawal of one consent (history is kept)."""
    try:
        consent = ConsentIn(
            purpose=purpose,
            channel=channel,
            granted=granted,
            source="cli",
            note=note,
        )
    except ValidationError as exc:
        fail(exc, code=2)
    with context.new_uow() as uow:
        try:
            service.consent_set(uow, member_id=member_id, consent=consent)
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="consent_change",
            member_id=member_id,
            page="cli",
            detail={"purpose": purpose, "channel": channel, "granted": granted},
        )
        uow.commit()
    message = (
        _("member {id} consents to {purpose} by {channel}")
        if granted
        else _("member {id} withdrew consent to {purpose} by {channel}")
    )
    console.print(
        say(message, id=member_id, purpose=say(label(purpose)), channel=say(label(channel)))
    )


def members_consents(member_id: Annotated[int, typer.Argument(help="member id", min=1)]) -> None:
    """A member's consent history, oldest first (audited as a read of the profile)."""
    with context.new_uow() as uow:
        try:
            queries.member_get(uow.session, member_id=member_id)
        except DomainError as exc:
            fail(exc)
        events = queries.consent_history(uow.session, member_id=member_id)
        table = Table(
            say(_("Time")),
            say(_("Purpose")),
            say(_("Channel")),
            say(_("Consent")),
            say(_("Source")),
            say(_("Note")),
        )
        for e in events:
            table.add_row(
                local_time(e.at),
                say(label(e.purpose)),
                say(label(e.channel)),
                say(_("granted")) if e.granted else say(_("withdrawn")),
                e.source,
                e.note or "",
            )
        audit_record(uow, actor="cli", action="consent_history", member_id=member_id, page="cli")
        uow.commit()
    console.print(table)


def attach_member_commands(app: typer.Typer) -> None:
    """Add ``update``, ``consent`` and ``consents`` to the ``members`` sub-app."""
    app.command("update")(members_update)
    app.command("consent")(members_consent)
    app.command("consents")(members_consents)
