"""The command line's deal editing, the cycle's settings, cycles and their results, and the
funding statement, against a fresh database: what the pages do, refused values naming
their field, changes in the audit trail."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from regulars.catalog import service as catalog_service
from regulars.core.config import get_settings
from regulars.core.timeutil import local_day
from regulars.entrypoints import context
from regulars.entrypoints.cli import app
from regulars.offers import service
from regulars.offers.models import Deal, ListItem, PersonalList, Redemption
from regulars.staff.models import AuditEvent
from tests.factories.world import build_world
from tests.offers.conftest import IN_CYCLE, deal
from tests.offers.test_till import generate

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def refused(*args: str, field: str) -> str:
    """Run a command that must be refused (exit 1) naming ``field``."""
    out = invoke(*args, code=1)
    assert f"[{field}]" in out, out
    return out


def audits(action: str) -> list[tuple[str, str | None, object]]:
    """Who wrote each audit row of ``action``, from which page, with what detail."""
    with context.new_uow() as uow:
        return [
            (e.actor, e.page, e.detail)
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def test_deals_add_and_set(cli_db: str) -> None:
    with context.new_uow() as uow:
        world = build_world(uow, members=1)
        catalog_service.manufacturer_ensure(uow, code="M1", name="Maker One")
        uow.commit()
        sku = world.products[0].sku
    added = invoke(
        "deals", "add", "--code", "CLI-1", "--title", "CLI deal", "--target", f"product:{sku}",
        "--kind", "percent", "--value", "15", "--valid-from", "2026-11-01",
        "--valid-to", "2026-12-01T00:00:00+08:00", "--manufacturer", "M1",
        "--manufacturer-share", "60", "--store-share", "40", "--budget", "500", "--limit", "2",
    )  # fmt: skip
    assert "CLI-1" in added
    with context.new_uow() as uow:
        made = uow.session.scalars(select(Deal).where(Deal.code == "CLI-1")).one()
        deal_id, starts = made.id, made.valid_from
        # A day is its first moment in the chain's time zone.
        assert starts == local_day(date(2026, 11, 1), get_settings().timezone)[0]
        assert (made.target, made.target_value, made.kind, made.value) == (
            "product",
            sku,
            "percent",
            Decimal("15"),
        )
        assert (made.budget, made.limit_per_member, made.source, made.active) == (
            Decimal("500"),
            2,
            "cli",
            True,
        )
        assert made.manufacturer_id is not None
    assert audits("deal_create") == [("cli", "cli", {"code": "CLI-1"})]
    # Each bad value is refused by the schema or the service, naming its field.
    refused("deals", "add", "--code", "CLI-2", "--title", "x", "--kind", "percent",
            "--value", "10", field="target")  # fmt: skip
    refused("deals", "add", "--code", "CLI-2", "--title", "x", "--target", f"product:{sku}",
            "--kind", "percent", "--value", "150", field="value")  # fmt: skip
    refused("deals", "add", "--code", "CLI-2", "--title", "x", "--target", f"product:{sku}",
            "--kind", "percent", "--value", "ten", field="value")  # fmt: skip
    refused("deals", "add", "--code", "CLI-2", "--title", "x", "--target", f"product:{sku}",
            "--kind", "percent", "--value", "10", "--valid-from", "2026-11-01T08:00",
            field="valid_from")  # fmt: skip
    refused("deals", "add", "--code", "CLI-1", "--title", "again", "--target", f"product:{sku}",
            "--kind", "percent", "--value", "10", field="code")  # fmt: skip
    refused("deals", "add", "--code", "CLI-2", "--title", "x", "--target", f"product:{sku}",
            "--kind", "percent", "--value", "10", "--manufacturer", "NOPE",
            field="manufacturer_code")  # fmt: skip
    assert len(audits("deal_create")) == 1

    # set changes only what it is given; the manufacturer and the rest stay.
    shown = invoke("deals", "set", str(deal_id), "--title", "Renamed", "--budget", "")
    assert "Renamed" in shown and "M1" in shown
    with context.new_uow() as uow:
        changed = service.deal_get(uow, deal_id=deal_id)
        assert (changed.title, changed.budget, changed.value) == ("Renamed", None, Decimal("15"))
        assert changed.manufacturer_id is not None and changed.manufacturer_share == 60
        assert changed.valid_from == starts and changed.active is True
    invoke("deals", "set", str(deal_id), "--inactive")
    invoke("deals", "set", str(deal_id), "--kind", "bxgy", "--buy", "2", "--get", "1")
    with context.new_uow() as uow:
        changed = service.deal_get(uow, deal_id=deal_id)
        # A change of terms leaves a retired deal retired.
        assert (changed.kind, changed.buy_qty, changed.get_qty) == ("bxgy", 2, 1)
        assert changed.active is False
    refused("deals", "set", str(deal_id), "--store-share", "50", field="manufacturer_share")
    refused("deals", "set", str(deal_id), "--valid-to", "2026-10-01", field="valid_to")
    refused("deals", "set", str(deal_id), "--kind", "percent", "--value", "0", field="value")
    refused("deals", "set", "999999", "--title", "x", field="deal_id")
    assert audits("deal_update") == [("cli", "cli", {"code": "CLI-1"})] * 3


def test_lists_settings_show_and_change(cli_db: str) -> None:
    shown = invoke("lists", "settings")
    assert "cycle_days" in shown and "14" in shown and "platinum" in shown
    changed = invoke(
        "lists", "settings", "--set", "cycle_days=21", "--set", "notify=no",
        "--set", 'tier_factors={"gold": 2.5}',
    )  # fmt: skip
    assert "21" in changed and "gold" in changed
    with context.new_uow() as uow:
        found = service.settings_get(uow)
        assert (found.cycle_days, found.notify, found.tier_factors) == (21, False, {"gold": 2.5})
        assert found.list_length == 10  # not given: kept
    detail = {"cycle_days": "21", "notify": "no", "tier_factors": '{"gold": 2.5}'}
    assert audits("list_settings_update") == [("cli", "cli", detail)]
    refused("lists", "settings", "--set", "cycle_days=0", field="cycle_days")
    refused("lists", "settings", "--set", "control_share=half", field="control_share")
    refused("lists", "settings", "--set", "colour=red", field="colour")
    refused("lists", "settings", "--set", "tier_factors=gold", field="tier_factors")
    refused("lists", "settings", "--set", "cycle_days", field="set")
    assert len(audits("list_settings_update")) == 1
    with context.new_uow() as uow:
        assert service.settings_get(uow).cycle_days == 21


def test_cycles_results_and_the_statement(cli_db: str, tmp_path: Path) -> None:
    assert "regulars lists generate" in invoke("lists", "cycles")
    with context.new_uow() as uow:
        world = build_world(uow, members=4)
        maker = catalog_service.manufacturer_ensure(uow, code="M1", name="Maker One")
        funded = deal(
            uow, world, 0, manufacturer_code="M1", manufacturer_share="75", store_share="25"
        )
        store_funded = deal(uow, world, 1, kind="amount", value="0.50")
        rows = generate(uow, world, 0, 1)
        ordered = [rows[m.id] for m in world.members]
        cycle_id = ordered[0].cycle_id
        for row in ordered[2:]:
            row.group = "control"
        # One item of each of the two lists redeemed: a manufacturer's deal, the store's.
        for row, deal_id, maker_id, amounts in (
            (ordered[0], funded, maker.id, ("1.40", "1.05", "0.35")),
            (ordered[1], store_funded, None, ("1.00", "0.00", "1.00")),
        ):
            item = uow.session.scalars(
                select(ListItem).where(ListItem.list_id == row.id).order_by(ListItem.position)
            ).first()
            assert item is not None
            item.status = "redeemed"
            uow.session.add(
                Redemption(
                    item_id=item.id,
                    list_id=row.id,
                    member_id=row.member_id,
                    deal_id=deal_id,
                    manufacturer_id=maker_id,
                    receipt_id=1,
                    line_no=1,
                    amount=Decimal(amounts[0]),
                    manufacturer_amount=Decimal(amounts[1]),
                    store_amount=Decimal(amounts[2]),
                    redeemed_at=IN_CYCLE,
                )
            )
        uow.commit()
    cycles = invoke("lists", "cycles")
    assert f"│ {cycle_id} " in cycles and "2026-11-16" in cycles and "2.40" in cycles
    before = invoke("lists", "results", str(cycle_id))
    assert "2 / 8 (25.0%)" in before and "2 / 2 (100.0%)" in before and "2.40" in before
    assert "Measured once the cycle is over." in before
    with context.new_uow() as uow:
        for row, during in zip(
            uow.session.scalars(
                select(PersonalList)
                .where(PersonalList.cycle_id == cycle_id)
                .order_by(PersonalList.group.desc(), PersonalList.id)
            ),
            ("130", "140", "105", "110"),
            strict=True,
        ):
            row.spend_before, row.spend_during = Decimal("100"), Decimal(during)
        uow.commit()
    # List members' spend rose by 30 and 40, the control's by 5 and 10: 27.50 more.
    after = " ".join(invoke("lists", "results", str(cycle_id)).split())
    assert "by 27.50 more per member" in after and "95% interval" in after
    assert "2 with lists, 2 in control" in after
    refused("lists", "results", "999999", field="cycle_id")

    period = ("--from", "2026-11-01", "--to", "2026-12-01")
    table = invoke("deals", "statement", *period)
    assert "M1" in table and "D0" in table and "2.40" in table and "1.05" in table
    only = invoke("deals", "statement", *period, "--manufacturer", "M1")
    assert "D0" in only and "2.40" not in only
    empty = invoke("deals", "statement", "--from", "2026-10-01", "--to", "2026-11-01")
    assert "No list redemptions in this period." in empty
    csv_file, pdf_file = tmp_path / "s.csv", tmp_path / "s.pdf"
    invoke("deals", "statement", *period, "--out", str(csv_file))
    lines = csv_file.read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [["", "D1"], ["M1", "D0"]]
    invoke("deals", "statement", *period, "--out", str(pdf_file))
    assert pdf_file.read_bytes().startswith(b"%PDF")
    refused("deals", "statement", *period, "--out", str(tmp_path / "s.txt"), field="out")
    refused("deals", "statement", *period, "--manufacturer", "NOPE", field="manufacturer")
    refused("deals", "statement", "--from", "2026-12-01", "--to", "2026-11-01", field="end")
    bad = invoke("deals", "statement", "--from", "yesterday", "--to", "2026-11-01", code=2)
    assert "--from" in bad
