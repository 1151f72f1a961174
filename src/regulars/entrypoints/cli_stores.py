"""Stores and their tills on the command line: ``regulars stores list`` and
``regulars stores terminals CODE``.

The same reads as the /stores page (``catalog.queries``), for an operator checking which
tills exist and which of them can reach the till API before or after issuing keys. A
till's key is never shown, only whether it has a live one and when it was issued (the
model keeps no time of last use).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.catalog import queries
from regulars.catalog.models import Terminal
from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.core.templating import local_time
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import fold, say

console = Console()


def _key_state(terminal: Terminal) -> str:
    """Whether a till can call the till API: a live key, a revoked one, or none issued."""
    if terminal.api_key_hash and terminal.key_revoked_at is None:
        return say(_("live"))
    return say(_("revoked")) if terminal.key_revoked_at else say(_("none"))


def stores_list() -> None:
    """Every store by code, with its city and how many of its tills have a live key."""
    table = Table(
        say(_("Code")),
        fold(say(_("Store name"))),
        say(_("City")),
        say(_("Tills")),
        say(_("Live keys")),
    )
    with context.new_uow() as uow:
        for store in queries.store_list(uow.session):
            tills = queries.terminals_of(uow.session, store_id=store.id)
            live = [t for t in tills if t.api_key_hash and t.key_revoked_at is None]
            table.add_row(store.code, store.name, store.city or "", str(len(tills)), str(len(live)))
    console.print(table)


def stores_terminals(
    code: Annotated[str, typer.Argument(help="the store's code, e.g. S001")],
) -> None:
    """A store's tills: whether each has a live API key and when it was issued or revoked."""
    with context.new_uow() as uow:
        try:
            store = queries.store_by_code(uow.session, code=code)
        except DomainError as exc:
            fail(exc)
        table = Table(
            say(_("Till")),
            say(_("Key")),
            say(_("Issued")),
            say(_("Revoked")),
            say(_("Created")),
            title=f"{store.code} · {store.name}",
        )
        for till in queries.terminals_of(uow.session, store_id=store.id):
            table.add_row(
                till.code,
                _key_state(till),
                local_time(till.key_issued_at),
                local_time(till.key_revoked_at),
                local_time(till.created_at),
            )
    console.print(table)


def attach_store_commands(app: typer.Typer) -> None:
    """Add ``list`` and ``terminals`` to the ``stores`` sub-app."""
    app.command("list")(stores_list)
    app.command("terminals")(stores_terminals)
