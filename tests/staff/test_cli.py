"""``regulars staff list|add|disable|enable`` and ``regulars audit list`` against a fresh
database: accounts made and switched through the services, audited as ``cli``; errors
name their field and exit 1."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core import config as config_module
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import cli_staff
from regulars.entrypoints.cli import app
from regulars.staff import service
from regulars.staff.models import AuditEvent, StaffAccount

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch) -> None:
    """A terminal wide enough that no cell is folded onto a second line."""
    monkeypatch.setattr(cli_staff.console, "_width", 240)


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _read(url: str) -> tuple[dict[str, StaffAccount], list[AuditEvent]]:
    """The accounts by username and the audit events, oldest first."""
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            accounts = {a.username: a for a in uow.session.scalars(select(StaffAccount))}
            events = list(uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
            uow.session.expunge_all()
            return accounts, events
    finally:
        engine.dispose()


def test_add_list_disable_enable_and_the_trail(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("stores", "add", "S1", "一店")
    invoke("stores", "add", "S2", "二店")
    out = invoke(
        "staff",
        "add",
        "mia",
        "--role",
        "store_manager",
        "--name",
        "Mia [north]",
        "--store",
        "S1",
        "--store",
        "S2",
        "--locale",
        "en",
    )
    assert "Account mia created." in out
    password = re.search(r"One-time password \(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
    invoke("staff", "add", "noah", "--role", "cashier")

    accounts, _events = _read(cli_db)
    mia = accounts["mia"]
    assert (mia.role, mia.display_name, mia.locale, mia.must_change_password) == (
        "store_manager",
        "Mia [north]",
        "en",
        True,
    )
    assert len(mia.store_ids) == 2
    assert accounts["noah"].display_name == "noah" and accounts["noah"].locale == "zh_CN"
    # The printed password is the account's.
    engine = make_engine(cli_db)
    with UnitOfWork(make_session_factory(engine)) as uow:
        assert service.staff_authenticate(uow, username="mia", password=password).id == mia.id
    engine.dispose()

    listed = " ".join(invoke("staff", "list").split())
    assert "Mia [north]" in listed and "Store manager" in listed and "S1, S2" in listed
    assert re.search(r"noah │ noah │ Cashier │ │ zh_CN │ yes", listed)

    assert "Account noah disabled." in invoke("staff", "disable", "noah")
    accounts, _events = _read(cli_db)
    assert accounts["noah"].active is False
    assert re.search(
        r"noah │ noah │ Cashier │ │ zh_CN │ no", " ".join(invoke("staff", "list").split())
    )
    assert "Account noah enabled." in invoke("staff", "enable", "noah")
    accounts, events = _read(cli_db)
    assert accounts["noah"].active is True

    noah = accounts["noah"].id
    assert [(e.actor, e.action, e.page, e.detail) for e in events] == [
        ("cli", "staff_create", "cli", {"username": "mia", "role": "store_manager"}),
        ("cli", "staff_create", "cli", {"username": "noah", "role": "cashier"}),
        ("cli", "staff_active", "cli", {"staff_id": noah, "active": False}),
        ("cli", "staff_active", "cli", {"staff_id": noah, "active": True}),
    ]

    trail = invoke("audit", "list")
    assert trail.index('"active": true') < trail.index('"active": false')  # newest first
    assert trail.count("staff_create") == 2
    only = invoke("audit", "list", "--action", "staff_active", "--limit", "1")
    assert '"active": true' in only and '"active": false' not in only
    assert "staff_create" not in only
    assert "Nothing found." in invoke("audit", "list", "--actor", "somebody")
    assert "Nothing found." in invoke("audit", "list", "--member", "5")


def test_audit_times_are_in_the_chains_zone(cli_db: str, monkeypatch) -> None:
    invoke("db", "upgrade")
    invoke("staff", "add", "olga", "--role", "analyst")
    _accounts, events = _read(cli_db)
    for zone in ("Asia/Shanghai", "America/New_York"):
        monkeypatch.setenv("REGULARS_TIMEZONE", zone)
        config_module.get_settings.cache_clear()
        local = events[0].at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
        assert local in invoke("audit", "list")


def test_errors_name_the_field_and_exit_1(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("staff", "add", "pat", "--role", "cashier")
    out = invoke("staff", "disable", "nobody", code=1)
    assert "staff account nobody not found" in out and "[username]" in out
    out = invoke("staff", "enable", "nobody", code=1)
    assert "[username]" in out
    out = invoke("staff", "add", "pat", "--role", "cashier", code=1)
    assert "username pat is taken" in out and "[username]" in out
    out = invoke("staff", "add", "quinn", "--role", "boss", code=1)
    assert "[role]" in out
    out = invoke("staff", "add", "quinn", "--role", "cashier", "--locale", "fr", code=1)
    assert "[locale]" in out
    out = invoke("staff", "add", "bad name", "--role", "cashier", code=1)
    assert "[username]" in out
    out = invoke("staff", "add", "quinn", "--role", "store_manager", "--store", "NOPE", code=1)
    assert "store NOPE not found" in out and "[store]" in out
    accounts, events = _read(cli_db)
    assert set(accounts) == {"pat"}
    assert [e.action for e in events] == ["staff_create"]


def test_messages_in_chinese(cli_db: str, monkeypatch) -> None:
    invoke("db", "upgrade")
    monkeypatch.setenv("REGULARS_DEFAULT_LOCALE", "zh_CN")
    config_module.get_settings.cache_clear()
    out = invoke("staff", "disable", "nobody", code=1)
    assert "未找到员工账号 nobody" in out and "[username]" in out
    out = invoke("staff", "add", "rui", "--role", "cashier")
    assert "账号 rui 已创建。" in out and "created" not in out
    listed = invoke("staff", "list")
    assert "收银员" in listed
    assert "用户名" in listed and "Username" not in listed
    assert "账号 rui 已停用。" in invoke("staff", "disable", "rui")
