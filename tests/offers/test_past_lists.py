"""A member's earlier lists: the profile's list panel names the last five to staff who may
read lists (cycle, dates, items, redemptions, a link to each), the member's own page does
not; ``regulars lists show --member M --all`` gives every list, audited as ``list_view``."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import cli_offers, context
from regulars.entrypoints.cli import app
from regulars.offers import lists, service
from regulars.offers.lists import CycleInput
from regulars.offers.models import ListCycle, ListItem, PersonalList
from regulars.offers.schemas import ListSettingsUpdate
from regulars.staff.models import AuditEvent
from tests.factories.web import login, make_staff, member_sign_in
from tests.factories.world import World, build_world
from tests.offers.conftest import deal

runner = CliRunner()
# Fortnights before the current cycle (negative: after it); the third is a control entry.
CYCLES = (-2, 0, 1, 2, 3, 4, 5, 6)
CONTROL = 2


def _cycles(uow: UnitOfWork, world: World) -> dict[int, PersonalList]:
    """The first member's place in each of ``CYCLES``, keyed by fortnights before now; the
    first item of the previous cycle's list redeemed."""
    deal(uow, world, 0, valid_from="2020-01-01T00:00:00Z", valid_to="2099-01-01T00:00:00Z")
    member = world.members[0].id
    current = utcnow().date() - timedelta(days=1)
    found: dict[int, PersonalList] = {}
    service.settings_update(uow, data=ListSettingsUpdate(control_share=0.0, cycle_days=14))
    for back in CYCLES:
        cycle = lists.cycle_generate(
            uow,
            starts_on=current - timedelta(days=14 * back),
            data=CycleInput(
                spend={member: Decimal("5000")},
                predictions=[],
                popular=[world.products[0].id, world.products[1].id],
            ),
            seed=100 + back,
        )
        found[back] = uow.session.scalars(
            select(PersonalList).where(
                PersonalList.cycle_id == cycle.id, PersonalList.member_id == member
            )
        ).one()
    # Held out as control in that cycle: an entry without items or code.
    uow.session.execute(delete(ListItem).where(ListItem.list_id == found[CONTROL].id))
    found[CONTROL].group, found[CONTROL].code = "control", None
    assert found[CONTROL].group == "control" and found[1].group == "list"
    first = uow.session.scalars(
        select(ListItem).where(ListItem.list_id == found[1].id).order_by(ListItem.position)
    ).first()
    assert first is not None
    first.status = "redeemed"
    uow.commit()
    return found


def _items(uow: UnitOfWork, list_id: int) -> int:
    return int(uow.session.scalar(select(func.count()).where(ListItem.list_id == list_id)) or 0)


def _earlier(html: str) -> list[list[str]]:
    """The earlier-lists table's rows as cell texts (a link's target first)."""
    found = re.search(r'data-testid="earlier-lists">(.*?)</table>', html, re.DOTALL)
    assert found, "no earlier lists on the page"
    body = found.group(1).split("<tbody>")[1]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL):
        link = re.search(r'href="/lists/(\d+)"', row)
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]
        rows.append([link.group(1) if link else "", *cells])
    return rows


def test_profile_panel_names_the_last_five_earlier_lists(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    found = _cycles(uow, world)
    member = world.members[0].id
    make_staff(uow, "mia", "marketing")
    login(client, "mia")
    page = client.get(f"/members/{member}")
    assert page.status_code == 200
    panel = re.search(r'data-testid="panel-lists">(.*?)</section>', page.text, re.DOTALL)
    assert panel, "no list panel on the profile"
    assert f'href="/lists/{found[0].id}"' in panel.group(1)  # the current list, as before
    rows = _earlier(panel.group(1))
    # Newest first, the last five begun before now: not the current one, nor next month's.
    assert [int(r[0]) for r in rows] == [found[back].id for back in (1, 2, 3, 4, 5)]
    previous, control = rows[0], rows[1]
    cycle = uow.session.get(ListCycle, found[1].cycle_id)
    assert cycle is not None and previous[1] == cycle.starts_on.isoformat()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d", previous[2])
    assert previous[3:] == [str(_items(uow, found[1].id)), "1"]
    assert control[3:] == ["control", ""]
    assert rows[2][3:] == [str(_items(uow, found[3].id)), "0"]
    # The cycle's first day is shown, the list opened from it.
    opened = client.get(f"/lists/{previous[0]}")
    assert opened.status_code == 200 and "Personal shopping list" in opened.text

    # Without offers.read the list links are not offered: no earlier lists either.
    make_staff(uow, "cal", "cashier")
    login(client, "cal")
    cashier = client.get(f"/members/{member}")
    assert cashier.status_code == 200 and 'data-testid="panel-lists"' in cashier.text
    assert 'data-testid="earlier-lists"' not in cashier.text
    assert client.get(f"/lists/{previous[0]}").status_code == 403


def test_the_member_page_shows_no_earlier_lists(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    _cycles(uow, world)
    member_sign_in(client, uow, "13912340001", world.members[0].id)
    page = client.get("/m/me?lang=en")
    assert 'data-testid="list-panel"' in page.text
    assert 'data-testid="earlier-lists"' not in page.text and "/lists/" not in page.text


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal, so that no cell is folded across lines."""
    monkeypatch.setattr(cli_offers, "console", Console(width=250))


def _rows(output: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def _list_views() -> list[tuple[str, int | None, str | None, object]]:
    with context.new_uow() as uow:
        return [
            (e.actor, e.member_id, e.page, e.detail)
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "list_view").order_by(AuditEvent.id)
            )
        ]


def test_lists_show_all(cli_db: str, wide: None) -> None:
    with context.new_uow() as uow:
        world = build_world(uow, members=2)
        found = _cycles(uow, world)
        member, other = world.members[0].id, world.members[1].id
        ids = {back: row.id for back, row in found.items()}
        codes = {back: row.code for back, row in found.items()}
        items = {back: _items(uow, row.id) for back, row in found.items()}
    # Without --all: the current list only, audited as one list's view.
    current = invoke("lists", "show", "--member", str(member), "--lang", "en")
    assert "Product 1" in current and str(codes[0]) in current
    assert _list_views() == [("cli", member, "cli", {"list_id": ids[0]})]

    shown = _rows(invoke("lists", "show", "--member", str(member), "--all", "--lang", "en"))
    # Every list, newest first: next month's, the current one, then the earlier ones.
    assert [int(r[0]) for r in shown] == [ids[back] for back in CYCLES]
    assert len({r[1] for r in shown}) == len(CYCLES)  # each its own cycle's first day
    by_id = {int(r[0]): r for r in shown}
    previous = by_id[ids[1]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", previous[1])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d", previous[2])
    assert previous[3] == codes[1] and "Product 1" in previous[4]
    assert previous[5] == f"1 / {items[1]}"
    assert by_id[ids[CONTROL]][3:] == ["", "control", ""]
    assert by_id[ids[0]][5] == f"0 / {items[0]}"
    # The read names the member's purchases: audited as the list page is, once.
    assert _list_views()[1:] == [
        ("cli", member, "cli", {"list_ids": [ids[back] for back in CYCLES]})
    ]

    assert "[member_id]" in invoke("lists", "show", "--member", "999999", "--all", code=1)
    assert "No personal shopping list yet." in invoke(
        "lists", "show", "--member", str(other), "--all"
    )
    assert len(_list_views()) == 3  # an empty answer is still a read of that member


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output
