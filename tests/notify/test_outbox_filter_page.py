"""The admin outbox page filtered by member: it says whose messages it shows, offers the way
back to everyone's, and its totals' links keep the member."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from regulars.core.uow import UnitOfWork
from regulars.notify.service import outbox_enqueue
from tests.factories.web import login, make_staff
from tests.factories.world import build_world


def _queue(uow: UnitOfWork, mine: int, other: int) -> None:
    """A failed list email for ``mine``, a waiting birthday SMS for ``other``."""
    failed = outbox_enqueue(
        uow,
        channel="email",
        recipient="zhang.wei@example.com",
        subject="Your list",
        body="LIST",
        member_id=mine,
        purpose="personal_list",
    )
    failed.status, failed.attempts = "failed", 3
    outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340002",
        subject=None,
        body="BIRTHDAY",
        member_id=other,
        purpose="birthday",
    )
    uow.commit()


def _totals_links(html: str) -> list[str]:
    found = re.search(r'data-testid="outbox-totals">(.*?)</table>', html, re.DOTALL)
    assert found, "no totals on the page"
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', found.group(1))]


def test_the_member_filter_is_shown_and_kept(client: TestClient, uow: UnitOfWork) -> None:
    world = build_world(uow, products=1, members=2)
    mine, theirs = world.members[0].id, world.members[1].id
    _queue(uow, mine, theirs)
    make_staff(uow, "root", "admin")
    login(client, "root")

    page = client.get(f"/outbox?member_id={mine}")
    assert page.status_code == 200
    said = re.search(r'data-testid="outbox-member">(.*?)</p>', page.text, re.DOTALL)
    assert said, "the page does not say it is filtered"
    assert f"Messages of member {mine}" in said.group(1) and "show all" in said.group(1)
    assert 'data-testid="outbox-everyone" href' not in page.text
    assert re.search(r'href="/outbox" data-testid="outbox-everyone"', page.text)
    links = _totals_links(page.text)
    assert len(links) == 2 * 4  # two channels, four states
    assert all(link.endswith(f"&member_id={mine}") for link in links)
    assert f"/outbox?channel=email&status=failed&member_id={mine}" in links

    # A totals link keeps the member: their failed email, not the other member's SMS.
    followed = client.get(f"/outbox?channel=email&status=failed&member_id={mine}")
    assert "z***@example.com" in followed.text and "139****0002" not in followed.text
    assert f"Messages of member {mine}" in followed.text
    # Showing everyone keeps the status and channel chosen, drops only the member.
    back = re.search(r'href="([^"]+)" data-testid="outbox-everyone"', followed.text)
    assert back and unescape(back.group(1)) == "/outbox?status=failed&channel=email"

    # Unfiltered: nothing said, the links as before.
    everyone = client.get("/outbox")
    assert 'data-testid="outbox-member"' not in everyone.text
    assert "member_id" not in "".join(_totals_links(everyone.text))
    assert "/outbox?channel=sms&status=pending" in _totals_links(everyone.text)


def test_the_filter_line_in_chinese(client: TestClient, uow: UnitOfWork) -> None:
    world = build_world(uow, products=1, members=1)
    make_staff(uow, "root", "admin", locale="zh_CN")
    login(client, "root")
    page = client.get(f"/outbox?member_id={world.members[0].id}")
    said = re.search(r'data-testid="outbox-member">(.*?)</p>', page.text, re.DOTALL)
    assert said and "Messages of member" not in said.group(1) and "show all" not in said.group(1)
    assert str(world.members[0].id) in said.group(1)
