"""Request and response models of the staff domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field

from regulars.core.schemas import Id, ReadSchema, Schema, utc_holds
from regulars.core.timeutil import as_utc

Role = Literal["admin", "marketing", "service_desk", "store_manager", "cashier", "analyst"]


#: A time that carries its zone (``2026-05-01T08:00:00+08:00``), held in UTC; one that
#: UTC cannot hold is refused (``core.schemas.Instant``).
AwareTime = Annotated[AwareDatetime, AfterValidator(utc_holds), AfterValidator(as_utc)]


class StaffCreate(Schema):
    """A new staff account; without a password a one-time one is generated. A store
    manager needs at least one store (checked with the stores, in ``service.staff_create``)."""

    username: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    display_name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    store_ids: Annotated[list[Id], Field(max_length=500)] = []
    locale: Literal["en", "zh_CN"] = "zh_CN"
    password: Annotated[str, Field(min_length=10, max_length=200)] | None = None


class AuditWindow(Schema):
    """The times an audit search runs from and up to, each with its zone (the command
    line's ``--since`` and ``--until``, as the API's ``since`` and ``until``)."""

    since: AwareTime | None = None
    until: AwareTime | None = None


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
    locked_until: datetime | None = None
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


class ActiveSet(Schema):
    """Enable (``true``) or disable (``false``) an account."""

    active: bool


class RoleSet(Schema):
    """An account's role and the stores it works in (a store manager needs at least one)."""

    role: Role
    store_ids: Annotated[list[Id], Field(max_length=500)] = []


class StaffPasswordReset(StaffRead):
    """An account whose password an admin reset, with the one-time password (shown once)."""

    one_time_password: str


class AuditRead(ReadSchema):
    """One audit event: when, who (a username, or ``cli`` for the command line), what,
    on which page or route, about which member, with what detail."""

    id: int
    at: datetime
    actor: str
    action: str
    page: str | None
    member_id: int | None
    detail: dict[str, Any]
