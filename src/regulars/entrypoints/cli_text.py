"""Text of the command line: catalogue messages in the configured language.

Every command prints its headings, labels and messages through :func:`say`, in
``REGULARS_DEFAULT_LOCALE`` (a terminal has no Accept-Language), as the domain errors are
(``cli_errors.fail``); :func:`fold` makes a table column that wraps a long value rather
than cutting it.
"""

from __future__ import annotations

from typing import Any

from rich.table import Column

from regulars.core.config import get_settings
from regulars.core.i18n import translate


def say(message: str, **params: Any) -> str:
    """A catalogue message (marked with ``_()``) in the configured language."""
    return translate(message, get_settings().default_locale, **params)


def fold(heading: str) -> Column:
    """A column that folds a long value onto more lines on a narrow terminal, never cuts it."""
    return Column(heading, overflow="fold")
