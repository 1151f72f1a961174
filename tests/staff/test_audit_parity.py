"""The /audit page and ``regulars audit list`` search as ``GET /api/v1/audit`` does: by
since and until, a page (or an offset) at a time; a time that is none, or (on the command
line) one without its zone, is refused naming the field or option."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import cli_staff
from regulars.entrypoints.cli import app as cli
from regulars.staff import audit, web
from tests.factories.web import login, make_staff

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
runner = CliRunner()


def _seed(uow: UnitOfWork) -> None:
    """Five ``probe`` events, one a day at noon UTC from 10 March 2026, on pages /p0../p4."""
    for n in range(5):
        event = audit.audit_record(uow, actor="cli", action="probe", page=f"/p{n}")
        event.at = START + timedelta(days=n)
    uow.commit()


def _pages_on(html: str) -> list[str]:
    return re.findall(r"<td>(/p\d)</td>", html)


@pytest.fixture
def admin(client: TestClient, uow: UnitOfWork) -> TestClient:
    make_staff(uow, "hana", "admin")
    login(client, "hana")
    _seed(uow)
    return client


def test_the_page_searches_until(admin: TestClient) -> None:
    def shown(**params: str) -> list[str]:
        answer = admin.get("/audit", params={"action": "probe", **params})
        assert answer.status_code == 200, answer.text[:500]
        return _pages_on(answer.text)

    assert shown() == ["/p4", "/p3", "/p2", "/p1", "/p0"]
    assert shown(until="2026-03-11T12:00:00+00:00") == ["/p1", "/p0"]
    assert shown(until="2026-03-11T19:59:00+08:00") == ["/p0"]  # 11:59 UTC
    # A bare day runs to that day's end, so since and until one day find that day.
    assert shown(until="2026-03-11") == ["/p1", "/p0"]
    assert shown(since="2026-03-12", until="2026-03-12") == ["/p2"]
    assert shown(since="2026-03-12", until="2026-03-13") == ["/p3", "/p2"]
    # A time without a zone is the chain's (Asia/Shanghai), as the page shows times: /p2
    # was at 20:00 there, so "since 19:00" finds it, where 19:00 UTC would not.
    assert shown(since="2026-03-12T19:00", until="2026-03-12T21:00") == ["/p2"]
    assert shown(since="2026-03-12T21:00", until="2026-03-13T19:00") == []
    form = admin.get("/audit", params={"until": "2026-03-11"}).text
    assert 'name="until" value="2026-03-11"' in form


@pytest.mark.parametrize(
    ("field", "value"),
    [("until", "tomorrow"), ("until", "9999-12-31T23:00:00-05:00"), ("since", "soon")],
)
def test_the_page_refuses_a_time_that_is_none(admin: TestClient, field: str, value: str) -> None:
    answer = admin.get("/audit", params={field: value})
    assert answer.status_code == 422
    assert f"{field}: not a date or time the audit trail can be searched" in answer.text


def test_the_page_goes_a_page_at_a_time(admin: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "AUDIT_PAGE_SIZE", 2)
    params = {"action": "probe", "until": "2026-03-20"}
    first = admin.get("/audit", params=params).text
    assert _pages_on(first) == ["/p4", "/p3"]
    assert 'rel="prev"' not in first
    link = re.search(r'href="\?([^"]+)" rel="next"', first)
    assert link is not None
    following = parse_qs(html.unescape(link.group(1)), keep_blank_values=True)
    assert following["action"] == ["probe"] and following["until"] == ["2026-03-20"]
    assert following["page"] == ["2"]
    second = admin.get("/audit", params={**params, "page": "2"}).text
    assert _pages_on(second) == ["/p2", "/p1"]
    assert "page=1" in second and 'rel="prev"' in second and 'rel="next"' in second
    last = admin.get("/audit", params={**params, "page": "3"}).text
    assert _pages_on(last) == ["/p0"]
    assert 'rel="prev"' in last and 'rel="next"' not in last
    # Exactly a page left: no next page that would be empty.
    monkeypatch.setattr(web, "AUDIT_PAGE_SIZE", 5)
    whole = admin.get("/audit", params=params).text
    assert len(_pages_on(whole)) == 5 and 'rel="next"' not in whole
    assert admin.get("/audit", params={"page": "0"}).status_code == 422


@contextmanager
def _uow(url: str) -> Iterator[UnitOfWork]:
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            yield uow
    finally:
        engine.dispose()


def _listed(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli, ["audit", "list", "--action", "probe", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_the_cli_searches_since_until_and_offset(
    cli_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_staff.console, "_width", 240)
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    with _uow(cli_db) as uow:
        _seed(uow)

    def pages(*args: str) -> list[str]:
        return re.findall(r"/p\d", _listed(*args))

    assert pages() == ["/p4", "/p3", "/p2", "/p1", "/p0"]
    assert pages("--since", "2026-03-11T00:00:00Z") == ["/p4", "/p3", "/p2", "/p1"]
    # 08:00 in +08:00 is midnight UTC: the event at noon UTC that day is after it.
    assert pages("--since", "2026-03-11T00:00Z", "--until", "2026-03-13T08:00+08:00") == [
        "/p2",
        "/p1",
    ]
    assert pages("--limit", "2", "--offset", "1") == ["/p3", "/p2"]
    assert pages("--offset", "5") == []
    assert "Nothing found." in _listed("--offset", "5")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--since", "2026-03-11"),  # no zone: which midnight?
        ("--since", "2026-03-11T10:00:00"),
        ("--until", "yesterday"),
        ("--until", "0001-01-01T00:00:00+01:00"),  # before the first instant UTC holds
    ],
)
def test_the_cli_refuses_a_time_naming_the_option(cli_db: str, option: str, value: str) -> None:
    out = _listed(option, value, code=1)
    name = option.removeprefix("--")
    assert f"[{name}]" in out and f"{name}:" in out


def test_the_cli_refuses_a_negative_offset() -> None:
    result = runner.invoke(cli, ["audit", "list", "--offset", "-1"])
    assert result.exit_code == 2 and "--offset" in result.output
