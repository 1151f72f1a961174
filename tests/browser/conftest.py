"""Staff pages in a real browser: a uvicorn server on a seeded database, and Chromium.

One server per run (session scope) on a fresh migrated database of the run's kind
(``REGULARS_TEST_DATABASE_URL``: SQLite or PostgreSQL). It is seeded through the services
before it starts: a store with a till, products, members (张三丰 among them), receipts and
one staff account per role with a known password (:data:`tests.browser.helpers.PASSWORD`).
Chromium is Debian's (``./scripts/browser-ensure``), driven by Playwright's sync API; every
test gets its own browser context (cookies, storage) through the ``context`` and ``page``
fixtures. Tests that change data use their own rows (see :class:`Seeded`), so the order of
tests never matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from regulars.core.config import Settings
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.context import db_upgrade
from regulars.members import service as member_service
from regulars.members.schemas import MemberCreate
from regulars.sales import service as sales_service
from regulars.sales.schemas import ReceiptIn
from regulars.staff import service as staff_service
from regulars.staff.schemas import StaffCreate
from tests.browser.helpers import (
    ACCOUNTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    SPARE_ACCOUNTS,
    VIEWPORT,
)
from tests.conftest import create_database, drop_database
from tests.factories.server import running_server
from tests.factories.world import build_world, receipt_payload


@dataclass
class Seeded:
    """Ids of the rows the seed made; tests that change a member use their own one."""

    store_code: str
    member_ids: dict[str, int] = field(default_factory=dict)  # key → member id
    staff_ids: dict[str, int] = field(default_factory=dict)  # username → id


@dataclass
class LiveServer:
    """A running server: where it answers, its database and what was seeded."""

    base_url: str
    database_url: str
    seeded: Seeded


# key: (name, mobile, card number). "zhang" is the demo-like member of the docs' screenshots.
MEMBERS: dict[str, tuple[str, str | None, str]] = {
    "zhang": ("张三丰", "13912340001", "C1000001"),
    "li": ("李小龙", "13912340002", "C1000002"),
    "wang": ("王芳", "13912340003", "C1000003"),
    "consent": ("赵敏", "13912340004", "C1000004"),
    "edit": ("周芷若", "13912340005", "C1000005"),
    # Two registrations of one person (the merge test merges the second into the first).
    "twice": ("陈小明", "13912340006", "C1000006"),
    "twice_card": ("陈小明", None, "C1000007"),
}


def seed(url: str) -> Seeded:
    """Fill a migrated database through the services and commit."""
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            world = build_world(uow, products=8, members=0, store_code="S001")
            seeded = Seeded(store_code=world.store.code)
            for key, (name, mobile, card) in MEMBERS.items():
                member = member_service.member_register(
                    uow, data=MemberCreate(name=name, mobile=mobile, card_no=card)
                )
                seeded.member_ids[key] = member.id
            for n, card in enumerate(("C1000001", "C1000001", "C1000002"), start=1):
                payload = receipt_payload(world, f"R{n:04d}", member=False, lines=1 + n % 3)
                payload["member"] = {"card_no": card}
                sales_service.receipt_record(
                    uow,
                    store=world.store,
                    terminal=world.terminal,
                    data=ReceiptIn.model_validate(payload),
                )
            staff = [(name, role) for role, name in ACCOUNTS.items()]
            staff.append((SPARE_ACCOUNTS["lockout"], "cashier"))
            for username, role in staff:
                account, _ = staff_service.staff_create(
                    uow,
                    data=StaffCreate(
                        username=username,
                        display_name=username.removeprefix("b_").title(),
                        role=role,
                        password=PASSWORD,
                        locale="zh_CN",
                        store_ids=[world.store.id],
                    ),
                )
                account.must_change_password = False
                seeded.staff_ids[username] = account.id
            uow.commit()
    finally:
        engine.dispose()
    return seeded


@pytest.fixture(scope="session")
def live_database(tmp_root: Path, database_url: str) -> Iterator[str]:
    """A new migrated database for the browser tests' server (dropped afterwards)."""
    url = create_database(database_url, tmp_root)
    engine = make_engine(url)
    db_upgrade(engine)
    engine.dispose()
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def live_server(live_database: str, settings: Settings, tmp_root: Path) -> Iterator[LiveServer]:
    """A seeded uvicorn server in a subprocess, as in production: it sees only the URL.

    The seed runs while the server imports the app (seconds): nothing is read at start-up.
    """
    log = tmp_root / "browser-server.log"
    seeded: list[Seeded] = []
    try:
        with running_server(
            live_database, settings, log, while_starting=lambda: seeded.append(seed(live_database))
        ) as base_url:
            yield LiveServer(base_url=base_url, database_url=live_database, seeded=seeded[0])
    finally:
        # A 500 is a bug even when the page under test looked fine: uvicorn logs it.
        server_log = log.read_text(errors="replace")
        assert "Traceback" not in server_log, server_log


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync driver for the run."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (see ``scripts/browser-ensure``)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/browser-ensure")
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test (no cookies), pointed at the live server."""
    ctx = browser.new_context(
        base_url=live_server.base_url,
        viewport=VIEWPORT,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab in the test's own browser context."""
    return context.new_page()
