"""What browser tests share: the seeded accounts, logging in through the form, screenshots."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect

# The docs' pictures come from the SQLite pass; the PostgreSQL pass, which ./scripts/test
# runs at the same time, takes its screenshots into a folder of its own, so the two never
# write one file at once.
SCREENSHOTS = (
    Path(tempfile.gettempdir()) / f"regulars-screenshots-{os.getpid()}"
    if os.environ.get("REGULARS_TEST_DATABASE_URL")
    else Path(__file__).resolve().parents[2] / "docs" / "screenshots"
)
VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-password-1"
# One account per role, created by the live server's seed with PASSWORD.
ACCOUNTS = {
    "admin": "b_admin",
    "marketing": "b_marketing",
    "service_desk": "b_desk",
    "store_manager": "b_manager",
    "cashier": "b_cashier",
    "analyst": "b_analyst",
}
# Accounts that tests may lock out or otherwise spoil; nobody else logs in with them.
SPARE_ACCOUNTS = {"lockout": "b_lockout"}


def staff_login(page: Page, username: str, password: str = PASSWORD, *, next: str = "/") -> None:
    """Log ``username`` in through the login form and wait for the page behind it."""
    page.goto(f"/login?next={next}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login"))


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under docs/screenshots (overwritten on every run of the SQLite
    pass; see :data:`SCREENSHOTS`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
