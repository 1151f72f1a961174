"""Pydantic's validation errors as reasons in the reader's language.

Pydantic writes its messages in English only ("Field required", "Input should be a valid
decimal"), and a domain rule's message reaches it already translated (``domain_check``).
:func:`validation_reason` gives the reason of one error in ``locale``: in English
Pydantic's own words (what the API has always answered), in Chinese the catalogue's,
chosen by the error's type, with its limits (``max_length``, ``ge`` …) filled in. A domain
rule's message is translated again from the rule's own message, so it follows the
reader's language whatever language it was first written in.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from regulars.core.errors import DomainError, InvalidInput, RefusedValue
from regulars.core.i18n import Localised, _, normalise_locale, translate

# Pydantic error types (https://docs.pydantic.dev/latest/errors/validation_errors/) to
# catalogue messages; their placeholders are keys of the error's ``ctx``.
_BY_TYPE: dict[str, str] = {
    "missing": _("required"),
    "string_type": _("must be text"),
    "string_too_short": _("at least {min_length} characters"),
    "string_too_long": _("at most {max_length} characters"),
    "string_pattern_mismatch": _("not in the expected format"),
    "too_short": _("at least {min_length} items"),
    "too_long": _("at most {max_length} items"),
    "int_type": _("not a whole number"),
    "int_parsing": _("not a whole number"),
    "int_from_float": _("not a whole number"),
    "float_type": _("not a number"),
    "float_parsing": _("not a number"),
    "decimal_type": _("not a number"),
    "decimal_parsing": _("not a number"),
    "finite_number": _("not a number"),
    "decimal_max_places": _("at most {decimal_places} decimal places"),
    "decimal_max_digits": _("at most {max_digits} digits"),
    "decimal_whole_digits": _("at most {whole_digits} digits before the point"),
    "greater_than": _("must be greater than {gt}"),
    "greater_than_equal": _("must be at least {ge}"),
    "less_than": _("must be less than {lt}"),
    "less_than_equal": _("must be at most {le}"),
    "bool_type": _("must be true or false"),
    "bool_parsing": _("must be true or false"),
    "date_type": _("not a date"),
    "date_parsing": _("not a date"),
    "date_from_datetime_parsing": _("not a date"),
    "date_from_datetime_inexact": _("not a date"),
    "datetime_type": _("not a date-time"),
    "datetime_parsing": _("not a date-time"),
    "datetime_from_date_parsing": _("not a date-time"),
    "timezone_aware": _("must carry a time zone (e.g. +08:00 or Z)"),
    "literal_error": _("must be one of {expected}"),
    "enum": _("must be one of {expected}"),
    "list_type": _("must be a list"),
    "dict_type": _("must be an object"),
    "model_type": _("must be an object"),
    "model_attributes_type": _("must be an object"),
    "extra_forbidden": _("not an accepted field"),
    "json_invalid": _("not valid JSON"),
    "json_type": _("not valid JSON"),
    "uuid_parsing": _("not a valid identifier"),
    "url_parsing": _("not a valid web address"),
}


def _domain_cause(err: ErrorDetails) -> DomainError | None:
    """The domain rule's error behind a ``value_error`` (``domain_check``), if any."""
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    error = ctx.get("error")
    cause = getattr(error, "__cause__", None)
    return cause if isinstance(cause, DomainError) else None


def error_place(err: ErrorDetails) -> str:
    """Where an error is, as the API and forms name a field: ``lines[0].amount``.

    The error's location, without Pydantic's validator wrappers; a check over a whole
    model that names its field (``core.schemas.refuse``) adds that field below the model.
    """
    parts: list[str] = []
    for item in err.get("loc", ()):
        if item in ("body", "query", "path", "header"):
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif str(item).startswith(("function-after", "function-wrap")) or "[" in str(item):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    cause = _domain_cause(err)
    if isinstance(cause, RefusedValue) and cause.field:
        parts.append(("." if parts else "") + cause.field)
    return "".join(parts)


def validation_reason(err: ErrorDetails, locale: str | None) -> str:
    """The reason of one Pydantic validation error, in ``locale``."""
    cause = _domain_cause(err)
    if cause is not None:
        return translate(cause.message, normalise_locale(locale), **cause.params)
    english = str(err.get("msg", "")).removeprefix("Value error, ")
    if normalise_locale(locale) == "en":
        return english
    message = _BY_TYPE.get(str(err.get("type", "")))
    if message is None:
        # A validator's own sentence (a model check naming its field, say) is kept as
        # written: only a type's generic wording has a catalogue entry.
        return english
    params = {key: str(value) for key, value in dict(err.get("ctx") or {}).items()}
    try:
        return translate(message, locale, **params)
    except (KeyError, IndexError):  # a ctx without the limit the message names
        return english


class ValidationReason(Localised):
    """One validation error's reason, rendered in the language of whoever reads it."""

    def __init__(self, err: ErrorDetails) -> None:
        self.err = err

    def in_locale(self, locale: str) -> str:
        return validation_reason(self.err, locale)


def invalid_input(exc: ValidationError) -> InvalidInput:
    """A form's first validation error as ``InvalidInput`` naming its field, whose reason
    is shown in the reader's language (the page's, when the error is rendered)."""
    first = exc.errors()[0]
    where = error_place(first)
    return InvalidInput(
        _("{where}: {reason}"),
        field=where or None,
        where=where or "-",
        reason=ValidationReason(first),
    )
