"""The deals and list commands against a fresh database, down to the printed PDF."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core.timeutil import utcnow
from regulars.entrypoints import context
from regulars.entrypoints.cli import app
from regulars.entrypoints.cli_offers import attach_list_commands
from regulars.offers import pdf, queries, service
from regulars.offers.schemas import DealCreate, ListSettingsUpdate
from regulars.staff.models import AuditEvent
from tests.factories.insights import shop
from tests.factories.world import build_world

runner = CliRunner()
lists = typer.Typer()
attach_list_commands(lists)


def invoke(target: typer.Typer, *args: str, code: int = 0) -> str:
    result = runner.invoke(target, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_deals_import_generate_show_print(cli_db: str, tmp_path: Path) -> None:
    today = utcnow().date()
    with context.new_uow() as uow:
        world = build_world(uow, members=2)
        for week in range(1, 5):
            for member in range(2):
                shop(
                    uow,
                    world,
                    member=member,
                    at=utcnow() - timedelta(weeks=week),
                    products=(0, 1),
                    quantity="60",
                )
        # No control group here: both members must get a list whatever the cycle's seed.
        service.settings_update(uow, data=ListSettingsUpdate(control_share=0.0))
        uow.commit()
        sku = world.products[0].sku
    start = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    end = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    csv_file = tmp_path / "deals.csv"
    csv_file.write_text(
        "code,title,target,target_value,kind,value,valid_from,valid_to\n"
        f"K1,Kettle chips,product,{sku},percent,25,{start},{end}\n"
        f"K2,Broken,product,{sku},percent,25,{start},not-a-date\n",
        encoding="utf-8",
    )
    out = invoke(app, "deals", "import", str(csv_file), code=2)
    assert "loaded 1" in out
    assert "K1" in invoke(app, "deals", "list")
    generated = invoke(lists, "generate", "--day", today.isoformat())
    assert "'lists': 2" in generated
    shown = invoke(lists, "show", "--member", str(world.members[0].id), "--lang", "en")
    assert "Product 1" in shown and "percent 25" in shown
    target = tmp_path / "list.pdf"
    invoke(lists, "print", "--member", str(world.members[0].id), "--out", str(target))
    data = target.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1500
    with context.new_uow() as uow:
        row = queries.member_current_list(uow.session, member_id=world.members[0].id, at=utcnow())
        assert row is not None and row.code is not None
        # The sheet names the member: printing it is audited, as on the list page.
        event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "list_print")
        ).one()
        assert (event.actor, event.member_id, event.page) == ("cli", world.members[0].id, "cli")
        assert event.detail == {"list_id": row.id, "code": row.code}
        # Showing it is a read of the member too.
        shown_event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "list_view")
        ).one()
        assert (shown_event.member_id, shown_event.detail) == (
            world.members[0].id,
            {"list_id": row.id},
        )
    statement = pdf.statement_pdf(
        [], start=utcnow() - timedelta(days=30), end=utcnow(), locale="zh_CN"
    )
    assert statement.startswith(b"%PDF")
    assert pdf.statement_csv([]).strip() == ",".join(pdf.STATEMENT_HEADER)


def test_deals_show_and_retire(cli_db: str) -> None:
    with context.new_uow() as uow:
        world = build_world(uow, members=1)
        made = service.deal_create(
            uow,
            data=DealCreate.model_validate(
                {
                    "code": "SHOW-1",
                    "title": "Shown deal",
                    "target": "product",
                    "target_value": world.products[0].sku,
                    "kind": "bxgy",
                    "buy_qty": 2,
                    "get_qty": 1,
                    "valid_from": "2026-11-01T00:00:00+08:00",
                    "valid_to": "2026-12-01T00:00:00+08:00",
                    "budget": "300",
                }
            ),
        )
        uow.commit()
        deal_id = made.id
    listed = invoke(app, "deals", "list")
    assert listed.splitlines()[3].split("│")[1].strip() == str(deal_id)  # the id to show, retire
    shown = invoke(app, "deals", "show", str(deal_id))
    assert "SHOW-1" in shown and "Shown deal" in shown and "buy 2 get 1 free" in shown
    assert "0.00 / 300.00" in shown
    retired = invoke(app, "deals", "retire", str(deal_id))
    assert "SHOW-1" in retired
    with context.new_uow() as uow:
        assert service.deal_get(uow, deal_id=deal_id).active is False
        event = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "deal_retire")
        ).one()
        assert (event.actor, event.detail) == ("cli", {"code": "SHOW-1"})
    assert "Shown" not in invoke(app, "deals", "list", "--active")
    assert re.search(r"Active\s+│ no ", invoke(app, "deals", "show", str(deal_id)))
    invoke(app, "deals", "retire", str(deal_id))  # retiring twice changes nothing
    invoke(app, "deals", "show", "999999", code=1)
    missing = runner.invoke(app, ["deals", "retire", "999999"])
    assert missing.exit_code == 1 and "999999" in missing.output
    assert runner.invoke(app, ["deals", "show", "0"]).exit_code == 2  # not an id


def test_a_deals_file_that_is_not_text_is_refused_naming_the_file(
    cli_db: str, tmp_path: Path
) -> None:
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    garbage = tmp_path / "deals.csv"
    garbage.write_bytes(bytes(range(128, 256)) * 4)
    result = CliRunner().invoke(app, ["deals", "import", str(garbage)])
    assert result.exit_code == 2 and "[file]" in result.output, result.output
