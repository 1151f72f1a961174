"""Logging staff (and members, on their own page) in through the real forms in tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.notify.models import OutboxMessage
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


def member_sign_in(client: TestClient, uow: UnitOfWork, identifier: str, member_id: int) -> str:
    """Sign a member in on ``/m`` with the code the outbox holds for them; returns the
    CSRF token of their page."""
    answer = client.post("/m/code", data={"identifier": identifier})
    assert answer.status_code == 200, answer.text[:500]
    uow.session.expire_all()
    body = uow.session.scalars(
        select(OutboxMessage.body)
        .where(OutboxMessage.member_id == member_id)
        .order_by(OutboxMessage.id.desc())
    ).first()
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    answer = client.post(
        "/m/verify", data={"identifier": identifier, "code": found.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"] == "/m/me"
    page = client.get("/m/me")
    assert page.status_code == 200
    return csrf_of(page.text)
