"""Staff accounts and the audit trail on the command line: ``regulars staff
create-admin|list|add|disable|enable|reset-password|unlock|set-role`` and ``regulars audit
list``.

The same services as the /staff and /audit pages and the staff API; every change is
audited with the actor ``cli``. Headings and messages are catalogue messages in the
configured language (``REGULARS_DEFAULT_LOCALE``), like the domain errors.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from regulars.catalog import queries as catalog_queries
from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.templating import local_time
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say
from regulars.staff import audit, rules, service
from regulars.staff.schemas import AuditWindow, StaffCreate

console = Console()
staff_app = typer.Typer(
    help="Staff accounts: list, add, disable, enable, reset a password, unlock, set the role.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The audit trail: who did or saw what, when.", no_args_is_help=True)


@staff_app.command("create-admin")
def staff_create_admin() -> None:
    """Create the first admin account if none exists and print its one-time password."""
    with context.new_uow() as uow:
        password = service.staff_ensure_admin(uow)
        uow.commit()
    if password is None:
        console.print("an admin account already exists")
    else:
        console.print(
            f"admin account: [bold]admin[/bold], one-time password: [bold]{password}[/bold]"
        )


@staff_app.command("list")
def staff_list() -> None:
    """Every staff account: username, name, role, stores, language, active, last login."""
    table = Table(
        "id",
        fold(say(_("Username"))),
        fold(say(_("Name"))),
        fold(say(_("Role"))),
        fold(say(_("Stores"))),
        fold(say(_("Language"))),
        fold(say(_("Active"))),
        fold(say(_("Last login"))),
    )
    with context.new_uow() as uow:
        accounts = service.staff_list(uow)
        codes = {s.id: s.code for s in catalog_queries.store_list(uow.session)}
        last_login = audit.audit_last_logins(uow)
        for a in accounts:
            table.add_row(
                str(a.id),
                a.username,
                escape(a.display_name),
                say(rules.role_label(a.role)),
                ", ".join(codes.get(i, str(i)) for i in a.store_ids),
                a.locale,
                say(_("yes")) if a.active else say(_("no")),
                local_time(last_login.get(a.id)),
            )
    console.print(table)
    if not accounts:
        console.print(say(_("Nothing found.")))


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Argument(help="the login name")],
    role: Annotated[str, typer.Option(help=", ".join(rules.ROLES))],
    name: Annotated[str | None, typer.Option(help="display name (the username if omitted)")] = None,
    store: Annotated[
        list[str] | None, typer.Option(help="store code a store manager works in (repeatable)")
    ] = None,
    locale: Annotated[str, typer.Option(help="en or zh_CN")] = "zh_CN",
) -> None:
    """Add a staff account and print its one-time password (shown once; audited)."""
    with context.new_uow() as uow:
        try:
            store_ids = [catalog_queries.store_by_code(uow.session, code=c).id for c in store or []]
            data = StaffCreate.model_validate(
                {
                    "username": username,
                    "display_name": name or username,
                    "role": role,
                    "store_ids": store_ids,
                    "locale": locale,
                }
            )
            account, one_time = service.staff_create(uow, data=data)
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit.audit_record(
            uow,
            actor="cli",
            action="staff_create",
            page="cli",
            detail={"username": account.username, "role": account.role},
        )
        uow.commit()
    console.print(escape(say(_("Account {username} created."), username=username)))
    if one_time:
        console.print(
            f"{escape(say(_('One-time password (shown once):')))} [bold]{one_time}[/bold]"
        )


def _set_active(username: str, *, active: bool) -> None:
    """Enable or disable an account by username, audited as the staff page does it."""
    with context.new_uow() as uow:
        try:
            account = service.staff_by_username(uow, username=username)
            service.staff_set_active(uow, staff_id=account.id, active=active)
        except DomainError as exc:
            fail(exc)
        _audit_active(uow, staff_id=account.id, active=active)
        uow.commit()
    message = _("Account {username} enabled.") if active else _("Account {username} disabled.")
    console.print(escape(say(message, username=username)))


def _audit_active(uow: UnitOfWork, *, staff_id: int, active: bool) -> None:
    audit.audit_record(
        uow,
        actor="cli",
        action="staff_active",
        page="cli",
        detail={"staff_id": staff_id, "active": active},
    )


@staff_app.command("disable")
def staff_disable(username: Annotated[str, typer.Argument(help="the login name")]) -> None:
    """Disable an account: its sessions end and its tokens stop working (audited)."""
    _set_active(username, active=False)


@staff_app.command("enable")
def staff_enable(username: Annotated[str, typer.Argument(help="the login name")]) -> None:
    """Enable a disabled account again (audited)."""
    _set_active(username, active=True)


@staff_app.command("reset-password")
def staff_reset_password(username: Annotated[str, typer.Argument(help="the login name")]) -> None:
    """Reset a forgotten password and print the one-time password (shown once; the lockout
    is lifted, sessions and tokens end; audited)."""
    with context.new_uow() as uow:
        try:
            account = service.staff_by_username(uow, username=username)
            _account, one_time = service.staff_reset_password(uow, staff_id=account.id)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(escape(say(_("Password of {username} reset."), username=username)))
    console.print(f"{escape(say(_('One-time password (shown once):')))} [bold]{one_time}[/bold]")


@staff_app.command("unlock")
def staff_unlock(username: Annotated[str, typer.Argument(help="the login name")]) -> None:
    """Lift a lockout after repeated failed logins (audited)."""
    with context.new_uow() as uow:
        try:
            account = service.staff_by_username(uow, username=username)
            service.staff_unlock(uow, staff_id=account.id)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(escape(say(_("Account {username} unlocked."), username=username)))


@staff_app.command("set-role")
def staff_set_role(
    username: Annotated[str, typer.Argument(help="the login name")],
    role: Annotated[str, typer.Argument(help=", ".join(rules.ROLES))],
    store: Annotated[
        list[str] | None,
        typer.Option(help="store code a store manager works in (repeatable; replaces the old)"),
    ] = None,
) -> None:
    """Set an account's role and stores (audited with the old and new ones)."""
    with context.new_uow() as uow:
        try:
            account = service.staff_by_username(uow, username=username)
            store_ids = [catalog_queries.store_by_code(uow.session, code=c).id for c in store or []]
            service.staff_set_role(uow, staff_id=account.id, role=role, store_ids=store_ids)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    label = say(rules.role_label(role))
    message = say(_("Account {username} is now: {role}."), username=username, role=label)
    console.print(escape(message))


@audit_app.command("list")
def audit_list(
    actor: Annotated[str | None, typer.Option(help="username, or cli for the command line")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. staff_active, profile_view")] = None,
    member: Annotated[int | None, typer.Option(help="member id", min=1)] = None,
    since: Annotated[
        str | None, typer.Option(help="from this time, ISO 8601 with zone: 2026-05-01T08:00+08:00")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="up to this time, ISO 8601 with zone: 2026-05-31T23:59Z")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[
        int, typer.Option(min=0, max=10_000_000, help="skip this many of the newest (paging)")
    ] = 0,
) -> None:
    """Audit events, newest first, times in the chain's time zone; the same search as the
    /audit page and GET /api/v1/audit. A time without its zone is refused, naming the
    option: a terminal has no zone of its own to read it in."""
    try:
        window = AuditWindow.model_validate({"since": since, "until": until})
    except ValidationError as exc:
        fail(exc)
    table = Table(
        "id",
        fold(say(_("Time"))),
        fold(say(_("Staff"))),
        fold(say(_("Action"))),
        fold(say(_("Member id"))),
        fold(say(_("Page"))),
        fold(say(_("Detail"))),
    )
    with context.new_uow() as uow:
        events = audit.audit_search(
            uow,
            member_id=member,
            actor=actor or None,
            action=action or None,
            since=window.since,
            until=window.until,
            limit=limit,
            offset=offset,
        )
        for e in events:
            table.add_row(
                str(e.id),
                local_time(e.at, "%Y-%m-%d %H:%M:%S"),
                escape(e.actor),
                escape(e.action),
                "" if e.member_id is None else str(e.member_id),
                escape(e.page or ""),
                escape(json.dumps(e.detail, ensure_ascii=False, default=str)),
            )
    console.print(table)
    if not events:
        console.print(say(_("Nothing found.")))
