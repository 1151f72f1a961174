"""Text of the command line: catalogue messages in the configured language.

Every command prints its headings, labels and messages through :func:`say`, in
``REGULARS_DEFAULT_LOCALE`` (a terminal has no Accept-Language), as the domain errors are
(``cli_errors.fail``); :func:`fold` makes a table column that wraps a long value rather
than cutting it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from rich.table import Column

from regulars.core.config import get_settings
from regulars.core.errors import InvalidInput
from regulars.core.i18n import _, translate
from regulars.entrypoints.cli_errors import fail


def say(message: str, **params: Any) -> str:
    """A catalogue message (marked with ``_()``) in the configured language."""
    return translate(message, get_settings().default_locale, **params)


def fold(heading: str) -> Column:
    """A column that folds a long value onto more lines on a narrow terminal, never cuts it."""
    return Column(heading, overflow="fold")


def assignments(pairs: list[str], fields: Collection[str]) -> list[tuple[str, str]]:
    """``--set FIELD=VALUE`` options as (field, value) pairs, both stripped.

    A pair without ``=`` or naming no field of ``fields`` is refused (exit 2), naming it
    and listing the fields; the values are left for the command's schema to check.
    """
    found: list[tuple[str, str]] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            fail(
                InvalidInput(
                    _("unknown field {name}: use one of {fields}"),
                    field=name or "set",
                    name=name,
                    fields=", ".join(fields),
                ),
                code=2,
            )
        found.append((name, value.strip()))
    return found
