"""Domain errors raised by services and mapped to HTTP status codes at the edge."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    ``message`` is an untranslated catalogue id; ``params`` fill its ``{placeholders}``;
    ``field`` names the input field at fault, when there is one.
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.field = field
        self.params = params


class InvalidInput(DomainError):
    """The input is malformed or breaks a validation rule."""

    status_code = 422


class RefusedValue(InvalidInput):
    """A validator's refusal (``core.schemas.refuse``); ``field``, when given, is the field
    a check over the whole model is about, below the model's own location."""


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status_code = 404


class Conflict(DomainError):
    """The request contradicts what is already recorded."""

    status_code = 409


class RuleViolation(DomainError):
    """A business rule forbids the request (for example returning more than was bought)."""

    status_code = 422


class Unauthorized(DomainError):
    """Credentials are missing or wrong."""

    status_code = 401


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status_code = 403
