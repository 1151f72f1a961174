"""``regulars staff reset-password|unlock|set-role`` against a fresh database: the same
services as the page and the API, audited as ``cli``; errors name their field and exit 1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core import config as config_module
from regulars.core.db import make_engine, make_session_factory
from regulars.core.errors import Unauthorized
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import cli_staff
from regulars.entrypoints.cli import app
from regulars.staff import service
from regulars.staff.models import AuditEvent, StaffAccount

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough that no line is folded."""
    monkeypatch.setattr(cli_staff.console, "_width", 240)


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _one_time(out: str) -> str:
    found = re.search(
        r"(?:One-time password \(shown once\):|一次性密码（仅显示一次）：) (\S+)", out
    )
    assert found, out
    return found.group(1)


@contextmanager
def _uow(url: str) -> Iterator[UnitOfWork]:
    """A unit of work on the command's database, its engine disposed afterwards."""
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            yield uow
    finally:
        engine.dispose()


def test_reset_unlock_and_set_role(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("stores", "add", "S1", "一店")
    invoke("staff", "add", "root", "--role", "admin")
    invoke("staff", "add", "nia", "--role", "cashier")

    out = invoke("staff", "reset-password", "nia")
    assert "Password of nia reset." in out
    password = _one_time(out)
    with _uow(cli_db) as uow:
        nia = service.staff_authenticate(uow, username="nia", password=password)
        assert nia.must_change_password
        # Lock it as a guesser would, then check the lock holds.
        nia.locked_until = utcnow() + timedelta(minutes=10)
        uow.commit()
        with pytest.raises(Unauthorized):
            service.staff_authenticate(uow, username="nia", password=password)

    assert "Account nia unlocked." in invoke("staff", "unlock", "nia")
    with _uow(cli_db) as uow:
        assert service.staff_authenticate(uow, username="nia", password=password).username == "nia"

    out = invoke("staff", "set-role", "nia", "store_manager", "--store", "S1")
    assert "Account nia is now: Store manager." in out
    listed = " ".join(invoke("staff", "list").split())
    assert re.search(r"nia │ nia │ Store manager │ S1 │", listed)

    with _uow(cli_db) as uow:
        events = list(uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        store_id = uow.session.scalars(
            select(StaffAccount.store_ids).where(StaffAccount.username == "nia")
        ).one()[0]
        trail = [(e.actor, e.action, e.page) for e in events if e.action != "staff_create"]
        assert trail == [
            ("cli", "staff_password_reset", "cli"),
            ("cli", "staff_unlock", "cli"),
            ("cli", "staff_role", "cli"),
        ]
        assert events[-1].detail["before"] == {"role": "cashier", "store_ids": []}
        assert events[-1].detail["store_ids"] == [store_id]
        assert all(password not in str(e.detail) for e in events)


def test_errors_name_the_field_and_exit_1(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("staff", "add", "root", "--role", "admin")
    invoke("staff", "add", "pat", "--role", "cashier")
    for command in ("reset-password", "unlock"):
        out = invoke("staff", command, "nobody", code=1)
        assert "staff account nobody not found" in out and "[username]" in out
    out = invoke("staff", "set-role", "nobody", "cashier", code=1)
    assert "[username]" in out
    out = invoke("staff", "set-role", "pat", "boss", code=1)
    assert "unknown role boss" in out and "[role]" in out
    out = invoke("staff", "set-role", "pat", "store_manager", "--store", "NOPE", code=1)
    assert "store NOPE not found" in out and "[store]" in out
    out = invoke("staff", "set-role", "pat", "store_manager", code=1)
    assert "a store manager needs at least one store" in out and "[store_ids]" in out
    out = invoke("staff", "set-role", "root", "analyst", code=1)
    assert "the last active administrator must stay an administrator" in out and "[role]" in out
    with _uow(cli_db) as uow:
        roles = dict(uow.session.execute(select(StaffAccount.username, StaffAccount.role)).all())
        actions = list(uow.session.scalars(select(AuditEvent.action)))
    assert roles == {"root": "admin", "pat": "cashier"}
    assert set(actions) == {"staff_create"}


def test_messages_in_chinese(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("db", "upgrade")
    monkeypatch.setenv("REGULARS_DEFAULT_LOCALE", "zh_CN")
    config_module.get_settings.cache_clear()
    invoke("staff", "add", "rui", "--role", "cashier")
    out = invoke("staff", "reset-password", "rui")
    assert "已重置 rui 的密码。" in out and len(_one_time(out)) >= 12
    assert "账号 rui 已解锁。" in invoke("staff", "unlock", "rui")
    assert "账号 rui 现在的角色：分析师。" in invoke("staff", "set-role", "rui", "analyst")
    out = invoke("staff", "set-role", "rui", "store_manager", code=1)
    assert "店长至少需要一个门店" in out
