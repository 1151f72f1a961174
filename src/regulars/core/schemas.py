"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from regulars.core.errors import DomainError
from regulars.core.i18n import translate

# Row ids are 32-bit integers on PostgreSQL; anything larger cannot name a row.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Schema(BaseModel):
    """Base of request and response models: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadSchema(BaseModel):
    """Base of response models built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


def domain_check(rule: Callable[..., Any], value: Any, **kwargs: Any) -> Any:
    """Run a domain rule inside a Pydantic validator, turning its error into ``ValueError``."""
    try:
        return rule(value, **kwargs)
    except DomainError as exc:
        raise ValueError(translate(exc.message, None, **exc.params)) from exc
