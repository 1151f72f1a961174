"""``regulars analytics runs`` and ``regulars analytics member`` against a fresh database:
the stored runs newest first, and one member's scores and signals read (and audited) as
``GET /api/v1/members/{id}/insights`` reads them."""

from __future__ import annotations

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core import config as config_module
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import cli_analytics, context
from regulars.entrypoints.cli import app
from regulars.insights import service
from regulars.members import service as members_service
from regulars.members.schemas import MemberCreate
from regulars.staff.models import AuditEvent
from tests.factories.insights import T0, stored_run

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal, so that no cell is folded across lines."""
    monkeypatch.setattr(cli_analytics, "console", Console(width=200))


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _members(cli_db: str, n: int, *, run: bool = True) -> list[int]:
    """``n`` members; with ``run`` a stored run scoring them (the first with a baby signal)
    and then a second run still running."""
    engine = make_engine(cli_db)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            ids = [
                members_service.member_register(uow, data=MemberCreate(card_no=f"ANA{i:04d}")).id
                for i in range(n)
            ]
            if run:
                stored_run(uow, ids[:-1], losers=1)  # the last member is not scored
                service.run_start(uow, as_of=T0, engine="local")
            uow.commit()
    finally:
        engine.dispose()
    return ids


def rows(output: str) -> list[list[str]]:
    """The cells of a printed table's body rows."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def _audits() -> list[tuple[str, int | None, str | None]]:
    with context.new_uow() as uow:
        return [
            (e.actor, e.member_id, e.page)
            for e in uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "member_insights_view")
                .order_by(AuditEvent.id)
            )
        ]


def test_runs_newest_first_with_a_limit(cli_db: str) -> None:
    assert "No analytics run yet" in invoke("analytics", "runs")
    _members(cli_db, 3)
    running, done = rows(invoke("analytics", "runs"))
    # the running run above the finished one, which names its members; the data's end in
    # the chain's time zone
    assert running[:4] == ["2", "2026-01-05 18:00", "local", "running"]
    assert running[4:] == ["", "", "", ""]
    assert done[:5] == ["1", "2026-01-05 18:00", "local", "done", "2"] and done[6]
    assert [r[0] for r in rows(invoke("analytics", "runs", "--limit", "1"))] == ["2"]
    invoke("analytics", "runs", "--limit", "0", code=2)


def test_member_scores_and_signals_audited_as_the_api(
    cli_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, loser, unscored = _members(cli_db, 3)
    shown = invoke("analytics", "member", str(first))
    assert "champions (5-5-4)" in shown
    assert "3 days since the last visit, 10 visits, 123.46 spent" in shown
    assert "gold" in shown and "at risk" in shown and "0.80" in shown
    assert "baby (0.90)" in shown  # the household signal of the latest run
    assert "Run 1, data before 2026-01-05 18:00." in shown
    lost = invoke("analytics", "member", str(loser))
    assert "lead · loss-making" in lost and "-1.00" in lost and "—" in lost
    # Not scored: said so, and the read is still audited, as the API's is.
    assert "Not scored yet" in invoke("analytics", "member", str(unscored))
    missing = invoke("analytics", "member", "999999", code=1)
    assert "[member_id]" in missing
    invoke("analytics", "member", "0", code=2)
    assert _audits() == [("cli", first, "cli"), ("cli", loser, "cli"), ("cli", unscored, "cli")]

    monkeypatch.setenv("REGULARS_DEFAULT_LOCALE", "zh_CN")
    config_module.get_settings.cache_clear()
    chinese = invoke("analytics", "member", str(first))
    assert "RFM 分群" in chinese and "冠军客户 (5-5-4)" in chinese and "家庭特征" in chinese
