"""Logging staff in through the real login form in tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from regulars.core.uow import UnitOfWork
from regulars.staff import service
from regulars.staff.models import StaffAccount
from regulars.staff.schemas import StaffCreate

PASSWORD = "a-long-password-1"


def make_staff(
    uow: UnitOfWork,
    username: str,
    role: str,
    *,
    locale: str = "en",
    stores: list[int] | None = None,
) -> StaffAccount:
    """An account with a known password (argon2-hashed: use sparingly)."""
    account, _ = service.staff_create(
        uow,
        data=StaffCreate(
            username=username,
            display_name=username.title(),
            role=role,
            password=PASSWORD,
            locale=locale,
            store_ids=stores or [],  # type: ignore[arg-type]
        ),
    )
    account.must_change_password = False
    uow.commit()
    return account


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the page's CSRF token."""
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "next": "/"},
        follow_redirects=True,
    )
    assert answer.status_code == 200, answer.text[:500]
    return csrf_of(answer.text)


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)
