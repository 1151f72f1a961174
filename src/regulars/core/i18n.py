"""Translation catalogues (Babel .po files) for messages in Chinese and English.

Messages are marked with :func:`_` where they are written and translated at the edge
(API error, CLI output) into the caller's locale with :func:`translate`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES = ("en", "zh_CN")
_LOCALE_DIR = Path(__file__).resolve().parent.parent / "i18n" / "locales"
# The locale of the reader of the messages being written now (see :func:`messages_in`).
_reader: ContextVar[str | None] = ContextVar("regulars_reader_locale", default=None)


def _(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later by :func:`translate`."""
    return message


@lru_cache(maxsize=len(LOCALES))
def _catalogue(locale: str) -> dict[str, str]:
    """Load one locale's .po file into a dict (cached for the process)."""
    path = _LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def normalise_locale(value: str | None) -> str:
    """Map a locale string or an Accept-Language header to ``en`` or ``zh_CN``."""
    if not value:
        return "en"
    for part in value.split(","):
        tag = part.split(";")[0].strip().lower().replace("-", "_")
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return "en"


@contextmanager
def messages_in(locale: str | None) -> Iterator[None]:
    """Within the block, :func:`translate` without a locale writes for ``locale``.

    For messages written now and read later by one person, such as an import's report of
    bad rows, which the staff member who uploaded the file reads in their language.
    """
    token = _reader.set(normalise_locale(locale) if locale else None)
    try:
        yield
    finally:
        _reader.reset(token)


def reader_locale() -> str | None:
    """The locale set by the enclosing :func:`messages_in`, if any."""
    return _reader.get()


class Localised(ABC):
    """A part of a message that is itself written in the message's language.

    Given as a parameter of :func:`translate`, it is rendered in the locale the message is
    translated into: a message made where the reader's language is not known (a form's
    error, raised deep in a handler) still reads in one language when it is shown.
    """

    @abstractmethod
    def in_locale(self, locale: str) -> str:
        """This part in ``locale`` (``en`` or ``zh_CN``)."""

    def __str__(self) -> str:
        return self.in_locale(normalise_locale(_reader.get()))


def translate(message: str, locale: str | None = None, **params: Any) -> str:
    """Translate ``message`` into ``locale`` (by default the reader's, see
    :func:`messages_in`, else English) and fill its ``{placeholders}``; a
    :class:`Localised` parameter is rendered in the same locale."""
    target = normalise_locale(locale or _reader.get())
    text = _catalogue(target).get(message, message)
    if not params:
        return text
    shown = {
        name: value.in_locale(target) if isinstance(value, Localised) else value
        for name, value in params.items()
    }
    return text.format(**shown)
