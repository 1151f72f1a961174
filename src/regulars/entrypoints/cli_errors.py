"""How every command reports a refused request: the message in the configured language
(``REGULARS_DEFAULT_LOCALE``) and, in brackets, the field at fault; then it exits.

One function for all the sub-apps. Rich reads ``[unit_price]`` as markup and drops it, and
a message may carry brackets typed by the user, so the text is escaped before printing
(the seven copies this replaced printed no field at all).
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DataError, StatementError
from typer.core import TyperGroup

from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import _, translate
from regulars.core.reasons import invalid_input

err = Console(stderr=True)


def fail(exc: DomainError | ValidationError, *, code: int = 1) -> NoReturn:
    """Print ``exc`` (a domain error, or a form's first validation error) and exit ``code``."""
    error = invalid_input(exc) if isinstance(exc, ValidationError) else exc
    where = f" [{error.field}]" if error.field else ""
    message = translate(error.message, get_settings().default_locale, **error.params)
    err.print(f"[red]{escape(message + where)}[/red]")
    raise typer.Exit(code)


def _out_of_range(exc: BaseException) -> bool:
    """Whether ``exc`` is a number or time no column can hold (an id past 2^63 on SQLite,
    past 2^31 on PostgreSQL, a day whose next day does not exist)."""
    if isinstance(exc, OverflowError | DataError):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError)


class CommandGroup(TyperGroup):
    """The ``regulars`` command group: a value out of every column's range, typed on any
    command, is reported as such (exit 2) instead of a traceback.

    The commands bound their own options where a bound is known; this catches what slips
    past them (an id typed with twenty digits), in one place for every sub-app.
    """

    def invoke(self, ctx: Any) -> Any:  # Typer vendors its own click Context class
        try:
            return super().invoke(ctx)
        except (OverflowError, StatementError) as exc:
            if not _out_of_range(exc):
                raise
            message = translate(
                _("a value is out of range for its field"), get_settings().default_locale
            )
            err.print(f"[red]{escape(message)}[/red]")
            raise typer.Exit(2) from exc
