"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from regulars.core.errors import DomainError, RefusedValue
from regulars.core.i18n import _, translate
from regulars.core.timeutil import as_utc

# Row ids are 32-bit integers on PostgreSQL; anything larger cannot name a row.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Schema(BaseModel):
    """Base of request and response models: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadSchema(BaseModel):
    """Base of response models built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


def refuse(message: str, *, field: str | None = None, **params: Any) -> NoReturn:
    """Refuse a value inside a validator with a catalogue message.

    ``message`` is a catalogue id (``_("…")``) with ``params`` for its placeholders; the
    error reaches Pydantic as a ``ValueError`` whose cause is the domain error, so every
    reader gets it in their own language (``core.reasons``). ``field`` names the field a
    model-level check is about (``amount`` of a line, say), which the error's location alone
    cannot: it becomes ``lines[0].amount``.
    """
    cause = RefusedValue(message, field=field, **params)
    raise ValueError(translate(message, None, **params)) from cause


def domain_check(rule: Callable[..., Any], value: Any, **kwargs: Any) -> Any:
    """Run a domain rule inside a Pydantic validator, turning its error into ``ValueError``."""
    try:
        return rule(value, **kwargs)
    except DomainError as exc:
        raise ValueError(translate(exc.message, None, **exc.params)) from exc


def utc_holds(value: datetime) -> datetime:
    """Refuse a time that UTC cannot hold (year 1 east of Greenwich, 31 December 9999
    west of it): every time is stored in UTC, so such a value would fail at the database."""
    try:
        as_utc(value)
    except OverflowError:
        refuse(_("a value is out of range for its field"))
    return value


#: A time (with or without its zone; models that need the zone check it) that UTC can hold.
Instant = Annotated[datetime, AfterValidator(utc_holds)]
#: A calendar day a chain can mean: its day boundaries and the next day always exist.
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]
