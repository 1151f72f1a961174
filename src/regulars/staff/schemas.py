"""Request and response models of the staff domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from regulars.core.schemas import Id, ReadSchema, Schema

Role = Literal["admin", "marketing", "service_desk", "store_manager", "cashier", "analyst"]


class StaffCreate(Schema):
    """A new staff account; without a password a one-time one is generated."""

    username: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    display_name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    store_ids: Annotated[list[Id], Field(max_length=500)] = []
    locale: Literal["en", "zh_CN"] = "zh_CN"
    password: Annotated[str, Field(min_length=10, max_length=200)] | None = None


class StaffRead(ReadSchema):
    """A staff account (never its password)."""

    id: int
    username: str
    display_name: str
    role: str
    store_ids: list[int]
    locale: str
    active: bool
    must_change_password: bool
    created_at: datetime


class LoginRequest(Schema):
    """Username and password."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenRead(Schema):
    """A bearer token for the staff API."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class StaffCreated(StaffRead):
    """A new account and, when none was given, its one-time password (shown once)."""

    one_time_password: str | None = None
