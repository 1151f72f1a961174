"""The ``regulars`` command line (Typer + Rich): one sub-app per domain, thin over services."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.console import Console
from rich.table import Table

from regulars.catalog import service as catalog_service
from regulars.catalog.schemas import StoreCreate
from regulars.core.config import get_settings
from regulars.core.crypto import FieldCipher, load_key, reset_cipher
from regulars.core.db import planner_stats
from regulars.core.errors import DomainError
from regulars.core.i18n import _, translate
from regulars.entrypoints import context
from regulars.entrypoints.cli_analytics import analytics_app
from regulars.entrypoints.cli_baskets import baskets_app
from regulars.entrypoints.cli_catalog import products_app
from regulars.entrypoints.cli_data import demo_app, import_app
from regulars.entrypoints.cli_errors import CommandGroup, fail
from regulars.entrypoints.cli_jobs import jobs_app, points_app
from regulars.entrypoints.cli_lists import lists_app
from regulars.entrypoints.cli_members import attach_member_commands
from regulars.entrypoints.cli_offers import attach_list_commands, deals_app
from regulars.entrypoints.cli_outbox import outbox_app
from regulars.entrypoints.cli_sales import receipts_app
from regulars.entrypoints.cli_staff import audit_app, staff_app
from regulars.entrypoints.cli_stores import attach_store_commands
from regulars.entrypoints.serving import OneWriteHttpProtocol, serve_spread
from regulars.entrypoints.wiring import wire
from regulars.jobs.registry import scheduler_thread
from regulars.members import queries as member_queries
from regulars.members import service as member_service
from regulars.members.models import Member
from regulars.members.schemas import ConsentIn, MemberCreate
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
app = typer.Typer(
    cls=CommandGroup,
    help="Regulars: the supermarket CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
members_app = typer.Typer(
    help="Members: find, show, register, update, consents, merge.", no_args_is_help=True
)
stores_app = typer.Typer(help="Stores, tills and till API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="The key that encrypts personal data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
attach_member_commands(members_app)
attach_store_commands(stores_app)
app.add_typer(members_app, name="members")
app.add_typer(products_app, name="products")
app.add_typer(stores_app, name="stores")
app.add_typer(staff_app, name="staff")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(demo_app, name="demo")
app.add_typer(jobs_app, name="jobs")
app.add_typer(points_app, name="points")
app.add_typer(analytics_app, name="analytics")
app.add_typer(outbox_app, name="outbox")
app.add_typer(deals_app, name="deals")
attach_list_commands(lists_app)
app.add_typer(lists_app, name="lists")
app.add_typer(baskets_app, name="baskets")
app.add_typer(receipts_app, name="receipts")


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Apply the migrations up to REVISION (the latest by default)."""
    context.db_upgrade(revision=revision)
    console.print(f"database at {revision}: {get_settings().database_url.split('@')[-1]}")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    scheduler: Annotated[bool, typer.Option(help="run the scheduled jobs in this process")] = True,
) -> None:
    """Serve the API and staff app (API docs at /docs), with the job scheduler."""
    settings = get_settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        # Measured (benchmarks/results/ingest.md): no faster, and the slowest answers wait
        # for the other worker's write lock.
        message = _(
            "SQLite takes one writer at a time: {workers} workers are no faster than one"
            " and make the slowest answers wait; use PostgreSQL to serve with more"
        )
        console.print(f"[yellow]{translate(message, settings.default_locale, workers=workers)}[/]")
    with context.new_uow() as uow:
        # SQLite's planner statistics, for a database loaded before this version gathered
        # them after every import (``core.db.planner_stats``; milliseconds).
        planner_stats(uow.session)
        uow.commit()
    if scheduler:
        # One scheduler per server, in the supervising process however many workers serve;
        # each job claims its (job, day) row first, so a second scheduler could not repeat it.
        scheduler_thread(context.session_factory())
    config = uvicorn.Config(
        "regulars.entrypoints.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="warning",
        # One socket write per answer instead of two (see ``serving``).
        http=OneWriteHttpProtocol,
        # Access lines are not logged at the "warning" level; without this uvicorn would
        # still build each one's parts.
        access_log=False,
        # uvicorn kills a worker that does not answer its supervisor within 5 s by default;
        # importing the app takes longer than that on a busy machine, and the workers
        # were then killed and restarted forever.
        timeout_worker_healthcheck=60,
    )
    if workers > 1:
        # Each worker on a socket of its own, so the tills' connections are spread over
        # the workers (``serving.serve_spread``).
        serve_spread(config)
    else:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise typer.Exit(code=3)  # uvicorn's exit code for a server that did not start


def _print_member(data: dict[str, Any]) -> None:
    table = Table(show_header=False)
    for key, value in data.items():
        if key != "consents":
            table.add_row(key, "" if value is None else str(value))
    console.print(table)
    consents = Table("purpose", "channel", "granted", "at", "source", title="consents")
    for c in data.get("consents", []):
        consents.add_row(c["purpose"], c["channel"], str(c["granted"]), str(c["at"]), c["source"])
    console.print(consents)


def _member_cells(member: Member) -> list[str]:
    """A member's id, code, card, masked mobile and name, as the members tables show them."""
    s = member_queries.member_summary(member)
    return [str(s.id), s.member_code, s.card_no or "", s.mobile_masked or "", s.name or ""]


@members_app.command("find")
def members_find(
    text: Annotated[str, typer.Argument(help="mobile, card number or name")], limit: int = 20
) -> None:
    """Find members by mobile, card number or name."""
    with context.new_uow() as uow:
        found = member_queries.member_search(uow.session, text=text, limit=limit)
        table = Table("id", "member code", "card", "mobile", "name", "status")
        for m in found:
            table.add_row(*_member_cells(m), m.status)
    console.print(table)


@members_app.command("show")
def members_show(member_id: int, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one member's profile, consents and merges (the read is audited)."""
    with context.new_uow() as uow:
        try:
            member = member_queries.member_get(uow.session, member_id=member_id)
        except DomainError as exc:
            fail(exc)
        data = member_queries.member_read(uow.session, member).model_dump(mode="json")
        merges = [
            {
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "at": str(m.merged_at),
                "by": m.actor,
                **m.details,
            }
            for m in member_queries.merges_of(uow.session, member_id=member_id)
        ]
        # As on the profile page and the API, every read of a profile is audited.
        audit_record(
            uow,
            actor="cli",
            action="profile_view",
            member_id=member_id,
            page="cli",
            detail={"mobile_shown": False},
        )
        uow.commit()
    if as_json:
        console.print_json(json.dumps({**data, "merges": merges}))
        return
    _print_member(data)
    for merge in merges:
        console.print(f"merge: {merge}")


@members_app.command("register")
def members_register(
    mobile: Annotated[str | None, typer.Option(help="mainland 11 digits or E.164")] = None,
    card: Annotated[str | None, typer.Option(help="member card number")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    community: Annotated[str | None, typer.Option(help="residential community (小区)")] = None,
    consent: Annotated[
        list[str] | None, typer.Option(help="purpose:channel, e.g. marketing:sms")
    ] = None,
) -> None:
    """Register a member by mobile number or card number."""
    try:
        consents = [
            ConsentIn(purpose=p, channel=c, granted=True, source="cli")
            for p, c in (item.split(":", 1) for item in consent or [])
        ]
        data = MemberCreate(
            mobile=mobile, card_no=card, name=name, community=community, consents=consents
        )
    except (ValueError, TypeError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    with context.new_uow() as uow:
        try:
            member = member_service.member_register(uow, data=data, source="cli")
        except DomainError as exc:
            fail(exc)
        summary = member_queries.member_summary(member)
        uow.commit()
    console.print(f"registered member {summary.id} (code {summary.member_code})")


@members_app.command("duplicates")
def members_duplicates(member_id: int) -> None:
    """List members who may be the same person (same name, no other birthday)."""
    with context.new_uow() as uow:
        try:
            found = member_queries.duplicate_candidates(uow.session, member_id=member_id)
        except DomainError as exc:
            fail(exc)
        table = Table("id", "member code", "card", "mobile", "name", "birthday", "registered")
        for m in found:
            table.add_row(*_member_cells(m), str(m.birthday or ""), str(m.created_at.date()))
    console.print(table)
    if found:
        console.print(f"merge one with: regulars members merge {member_id} ID")


@members_app.command("merge")
def members_merge(
    survivor: Annotated[int, typer.Argument(help="member id that remains")],
    duplicate: Annotated[int, typer.Argument(help="member id merged into the survivor")],
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Merge a duplicate member into the survivor (receipts and consents move)."""
    with context.new_uow() as uow:
        try:
            record = member_service.member_merge(
                uow, survivor_id=survivor, merged_id=duplicate, actor="cli", reason=reason
            )
        except DomainError as exc:
            fail(exc)
        details = record.details
        uow.commit()
    console.print(f"merged {duplicate} into {survivor}: {details}")


@stores_app.command("add")
def stores_add(code: str, name: str, city: Annotated[str | None, typer.Option()] = None) -> None:
    """Add a store."""
    with context.new_uow() as uow:
        try:
            catalog_service.store_create(uow, data=StoreCreate(code=code, name=name, city=city))
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(f"store {code} added")


@stores_app.command("add-terminal")
def stores_add_terminal(store: str, terminal: str) -> None:
    """Add a till to a store and print its API key (shown once)."""
    with context.new_uow() as uow:
        try:
            catalog_service.terminal_create(uow, store_code=store, code=terminal)
            key = catalog_service.terminal_issue_key(uow, store_code=store, terminal_code=terminal)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(f"till {store}/{terminal} API key (shown once): [bold]{key.api_key}[/bold]")


@stores_app.command("issue-key")
def stores_issue_key(store: str, terminal: str) -> None:
    """Issue a new API key for a till; the old key stops working."""
    with context.new_uow() as uow:
        try:
            key = catalog_service.terminal_issue_key(uow, store_code=store, terminal_code=terminal)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(f"till {store}/{terminal} API key (shown once): [bold]{key.api_key}[/bold]")


@stores_app.command("revoke-key")
def stores_revoke_key(store: str, terminal: str) -> None:
    """Revoke a till's API key."""
    with context.new_uow() as uow:
        try:
            catalog_service.terminal_revoke_key(uow, store_code=store, terminal_code=terminal)
        except DomainError as exc:
            fail(exc)
        uow.commit()
    console.print(f"till {store}/{terminal} key revoked")


@members_app.command("export")
def members_export(
    member_id: int,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """Export everything held about a member as JSON (PIPL access request; audited)."""
    with context.new_uow() as uow:
        try:
            data = member_queries.member_export_all(uow, member_id=member_id)
        except DomainError as exc:
            fail(exc)
        audit_record(uow, actor="cli", action="member_export", member_id=member_id, page="cli")
        uow.commit()
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if output is None:
        console.print_json(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"member {member_id} exported to {output}")


@members_app.command("erase")
def members_erase(
    member_id: int,
    yes: Annotated[bool, typer.Option("--yes", help="confirm the erasure")] = False,
) -> None:
    """Erase a member's personal data; receipts stay for aggregates, unlinked (audited)."""
    if not yes:
        err.print("add --yes to confirm: the member's personal data cannot be restored")
        raise typer.Exit(2)
    with context.new_uow() as uow:
        try:
            unlinked = member_service.member_erase(uow, member_id=member_id, actor="cli")
        except DomainError as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="member_erase",
            member_id=member_id,
            page="cli",
            detail=unlinked,
        )
        uow.commit()
    console.print(f"member {member_id} erased; unlinked {unlinked}")


@keys_app.command("rotate")
def keys_rotate(
    new_key: Annotated[
        str | None, typer.Option(help="base64 32-byte key; generated if omitted")
    ] = None,
) -> None:
    """Re-encrypt personal data with a new key and rebuild the mobile lookup index.

    With the key kept in ``var/data.key`` the file is replaced; with ``REGULARS_DATA_KEY``
    set, the new key is printed and must replace the setting before the next start.
    """
    settings = get_settings()
    old = FieldCipher(load_key(settings.data_key, settings.var_dir))
    key = base64.b64decode(new_key) if new_key else AESGCM.generate_key(bit_length=256)
    try:
        new = FieldCipher(key)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    with context.new_uow() as uow:
        changed = member_service.member_reencrypt(uow, old=old, new=new)
        audit_record(
            uow, actor="cli", action="key_rotation", page="cli", detail={"members": changed}
        )
        uow.commit()
    encoded = base64.b64encode(key).decode()
    if settings.data_key:
        console.print(f"re-encrypted {changed} members; set REGULARS_DATA_KEY={encoded}")
    else:
        path = settings.var_dir / "data.key"
        path.write_text(encoded)
        path.chmod(0o600)
        console.print(f"re-encrypted {changed} members; new key written to {path}")
    reset_cipher()


def main() -> None:
    """Console-script entry point."""
    wire()
    app()
