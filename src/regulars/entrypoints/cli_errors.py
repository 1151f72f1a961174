"""How every command reports a refused request: the message in the configured language
(``REGULARS_DEFAULT_LOCALE``) and, in brackets, the field at fault; then it exits.

One function for all the sub-apps. Rich reads ``[unit_price]`` as markup and drops it, and
a message may carry brackets typed by the user, so the text is escaped before printing
(the seven copies this replaced printed no field at all).
"""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import translate
from regulars.core.reasons import invalid_input

err = Console(stderr=True)


def fail(exc: DomainError | ValidationError, *, code: int = 1) -> NoReturn:
    """Print ``exc`` (a domain error, or a form's first validation error) and exit ``code``."""
    error = invalid_input(exc) if isinstance(exc, ValidationError) else exc
    where = f" [{error.field}]" if error.field else ""
    message = translate(error.message, get_settings().default_locale, **error.params)
    err.print(f"[red]{escape(message + where)}[/red]")
    raise typer.Exit(code)
