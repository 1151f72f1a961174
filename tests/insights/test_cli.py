"""``regulars analytics members`` against a fresh database: filters and the loss-makers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app
from regulars.members import service as members_service
from regulars.members.schemas import MemberCreate
from tests.factories.insights import stored_run

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_members_command_lists_loss_makers(cli_db: str, tmp_path: Path) -> None:
    assert "no analytics run" in invoke("analytics", "members", code=1)
    engine = make_engine(cli_db)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            ids = [
                members_service.member_register(uow, data=MemberCreate(card_no=f"LOSS{n:04d}")).id
                for n in range(4)
            ]
            stored_run(uow, ids, losers=1)
            uow.commit()
    finally:
        engine.dispose()
    shown = invoke("analytics", "members", "--loss-making", "--order", "loss")
    assert "1 members in run" in shown and "-1.00" in shown
    everyone = invoke("analytics", "members", "--limit", "2")
    assert "4 members in run" in everyone and "2 shown" in everyone
    out = tmp_path / "losers.csv"
    invoke("analytics", "members", "--loss-making", "--out", str(out))
    frame = pl.read_csv(out)
    assert frame["member_id"].to_list() == [ids[-1]] and frame["loss_making"].all()
