"""``regulars points programme`` and ``regulars points coupons reward-add|reward-set`` against a
fresh database: changes, refusals naming the field, and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app
from regulars.loyalty import programme
from regulars.loyalty.models import LoyaltyMultiplier, LoyaltyReward, LoyaltyTier
from regulars.staff.models import AuditEvent

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def factory(cli_db: str) -> Iterator[sessionmaker]:
    engine = make_engine(cli_db)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def audits(factory: sessionmaker, action: str) -> list[tuple[str, str | None, dict]]:
    with UnitOfWork(factory) as uow:
        return [
            (e.actor, e.page, e.detail)
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def reward(factory: sessionmaker, code: str) -> LoyaltyReward:
    with UnitOfWork(factory) as uow:
        found = uow.session.scalars(select(LoyaltyReward).where(LoyaltyReward.code == code)).one()
        uow.session.expunge(found)
        return found


def test_reward_add_then_set_only_what_is_given(factory: sessionmaker) -> None:
    added = invoke(
        "points",
        "coupons",
        "reward-add",
        "--code",
        "TEN",
        "--name",
        "满50减10",
        "--kind",
        "amount",
        "--points",
        "300",
        "--value",
        "10",
        "--min-spend",
        "50",
        "--stock",
        "20",
    )
    assert "reward TEN added" in added
    made = reward(factory, "TEN")
    assert (made.kind, made.points, made.value, made.min_spend) == (
        "amount",
        300,
        Decimal("10.00"),
        Decimal("50.00"),
    )
    assert (made.valid_days, made.stock, made.active) == (30, 20, True)
    assert "满50减10" in invoke("points", "coupons", "rewards")
    (created,) = audits(factory, "loyalty_reward_create")
    assert created[:2] == ("cli", "cli")
    assert created[2]["code"] == "TEN" and created[2]["points"] == 300

    changed = invoke(
        "points", "coupons", "reward-set", "TEN", "--points", "250", "--days", "14", "--inactive"
    )
    assert "reward TEN changed: active, points, valid_days" in changed
    after = reward(factory, "TEN")
    assert (after.points, after.valid_days, after.active) == (250, 14, False)
    assert (after.name, after.value, after.stock) == ("满50减10", Decimal("10.00"), 20)
    invoke("points", "coupons", "reward-set", "TEN", "--stock", "", "--active")
    unlimited = reward(factory, "TEN")
    assert unlimited.stock is None and unlimited.active
    updates = audits(factory, "loyalty_reward_update")
    assert [u[:2] for u in updates] == [("cli", "cli"), ("cli", "cli")]
    assert updates[0][2] == {"reward_id": made.id, "points": 250, "valid_days": 14, "active": False}
    assert updates[1][2] == {"reward_id": made.id, "stock": None, "active": True}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--code", "BAD", "--name", "x", "--kind", "cash", "--points", "10"), "kind"),
        (("--code", "BAD", "--name", "x", "--kind", "gift", "--points", "0"), "points"),
        (("--code", "BAD", "--name", " ", "--kind", "gift", "--points", "10"), "name"),
        (("--code", "B D", "--name", "x", "--kind", "gift", "--points", "10"), "code"),
        (
            (
                "--code",
                "BAD",
                "--name",
                "x",
                "--kind",
                "amount",
                "--points",
                "1",
                "--value",
                "lots",
            ),
            "value",
        ),
        (
            ("--code", "BAD", "--name", "x", "--kind", "gift", "--points", "1", "--days", "0"),
            "valid_days",
        ),
    ],
)
def test_reward_add_refuses_naming_the_field(
    factory: sessionmaker, args: tuple[str, ...], field: str
) -> None:
    refused = invoke("points", "coupons", "reward-add", *args, code=1)
    assert f"[{field}]" in refused
    with UnitOfWork(factory) as uow:
        assert not uow.session.scalars(select(LoyaltyReward.id)).all()
    assert audits(factory, "loyalty_reward_create") == []


def test_reward_set_refusals(factory: sessionmaker) -> None:
    invoke(
        "points",
        "coupons",
        "reward-add",
        "--code",
        "GIFT",
        "--name",
        "环保袋",
        "--kind",
        "gift",
        "--points",
        "100",
    )
    again = invoke(
        "points",
        "coupons",
        "reward-add",
        "--code",
        "GIFT",
        "--name",
        "x",
        "--kind",
        "gift",
        "--points",
        "1",
        code=1,
    )
    assert "[code]" in again
    assert "[code]" in invoke("points", "coupons", "reward-set", "NOPE", "--points", "5", code=1)
    assert "[value]" in invoke("points", "coupons", "reward-set", "GIFT", "--value", "x", code=1)
    assert "[stock]" in invoke("points", "coupons", "reward-set", "GIFT", "--stock", "-1", code=1)
    assert "[points]" in invoke("points", "coupons", "reward-set", "GIFT", "--points", "0", code=1)
    nothing = invoke("points", "coupons", "reward-set", "GIFT", code=2)
    assert "nothing to change" in nothing
    assert reward(factory, "GIFT").points == 100
    assert audits(factory, "loyalty_reward_update") == []


def test_programme_shows_and_changes_settings(factory: sessionmaker) -> None:
    shown = invoke("points", "programme")
    for word in ("points_per_unit", "member_days", "expiry_months", "platinum", "20000"):
        assert word in shown
    changed = invoke(
        "points",
        "programme",
        "--set",
        "points_per_unit=2",
        "--set",
        "member_days=wed:2,sat:1.5",
        "--set",
        "debt_policy=debt",
        "--set",
        "pending_days=0",
    )
    assert "The programme is saved." in changed and "wed:2,sat:1.5" in changed
    with UnitOfWork(factory) as uow:
        now = programme.programme_get(uow)
        assert now.points_per_unit == Decimal("2")
        assert now.member_days == {"2": "2", "5": "1.5"}
        assert (now.debt_policy, now.pending_days) == ("debt", 0)
    (event,) = audits(factory, "loyalty_programme")
    assert event == (
        "cli",
        "cli",
        {"fields": ["debt_policy", "member_days", "pending_days", "points_per_unit"]},
    )
    invoke("points", "programme", "--set", "member_days=")
    with UnitOfWork(factory) as uow:
        assert programme.programme_get(uow).member_days == {}


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("pending_days=soon", "pending_days"),
        ("debt_policy=forgive", "debt_policy"),
        ("points_per_unit=-1", "points_per_unit"),
        ("member_days=wed", "member_days"),
        ("member_days=funday:2", "member_days"),
        ("colour=blue", "colour"),
        ("pending_days", "pending_days"),
    ],
)
def test_programme_set_refuses_naming_the_field(
    factory: sessionmaker, setting: str, field: str
) -> None:
    refused = invoke("points", "programme", "--set", setting, code=2)
    assert f"[{field}" in refused
    assert audits(factory, "loyalty_programme") == []


def test_programme_tiers_and_multipliers_from_files(factory: sessionmaker, tmp_path: Path) -> None:
    tiers = tmp_path / "tiers.csv"
    tiers.write_text(
        "code,name,threshold,multiplier\nstandard,普通,0,1\ngold,金卡,5000,1.5\n", encoding="utf-8"
    )
    rules = tmp_path / "rules.csv"
    rules.write_text("target,value,multiplier\ntag,baby,2\nbrand,光明,1.5\n", encoding="utf-8")
    shown = invoke("points", "programme", "--tiers", str(tiers), "--multipliers", str(rules))
    assert "金卡" in shown and "baby" in shown and "platinum" not in shown
    with UnitOfWork(factory) as uow:
        codes = list(uow.session.scalars(select(LoyaltyTier.code).order_by(LoyaltyTier.rank)))
        targets = sorted(uow.session.scalars(select(LoyaltyMultiplier.target)))
    assert codes == ["standard", "gold"] and targets == ["brand", "tag"]
    assert audits(factory, "loyalty_tiers") == [("cli", "cli", {"tiers": ["standard", "gold"]})]
    assert audits(factory, "loyalty_multipliers") == [("cli", "cli", {"count": 2})]


@pytest.mark.parametrize(
    ("option", "content", "field", "code"),
    [
        ("--tiers", "code,name,threshold,multiplier\ngold,金卡,5000,1.5\n", "tiers", 1),
        ("--tiers", "code,name,threshold\nstandard,普通,0\n", "tiers", 2),
        ("--tiers", "code,name,threshold,multiplier\nstandard,普通,0,1\nGold,金,9,1\n", "code", 2),
        ("--tiers", "code,name,threshold,multiplier\nstandard,普通,zero,1\n", "threshold", 2),
        ("--multipliers", "target,value,multiplier\nshelf,A1,2\n", "target", 2),
        ("--multipliers", "target,value,multiplier\ntag,baby,-1\n", "multiplier", 2),
        ("--multipliers", "target,multiplier\ntag,2\n", "multipliers", 2),
    ],
)
def test_bad_tier_or_multiplier_files_change_nothing(
    factory: sessionmaker, tmp_path: Path, option: str, content: str, field: str, code: int
) -> None:
    path = tmp_path / "file.csv"
    path.write_text(content, encoding="utf-8")
    refused = invoke("points", "programme", option, str(path), code=code)
    assert f"[{field}]" in refused
    if code == 2 and field != option.strip("-"):
        assert "line 2" in refused or "line 3" in refused
    with UnitOfWork(factory) as uow:
        programme.programme_get(uow)
        uow.commit()
        codes = list(uow.session.scalars(select(LoyaltyTier.code).order_by(LoyaltyTier.rank)))
        rules = uow.session.scalars(select(LoyaltyMultiplier.id)).all()
    assert codes == ["standard", "silver", "gold", "platinum"] and not rules
    assert audits(factory, "loyalty_tiers") == audits(factory, "loyalty_multipliers") == []


def test_a_file_not_utf8_is_refused(factory: sessionmaker, tmp_path: Path) -> None:
    path = tmp_path / "tiers.csv"
    path.write_bytes("code,name,threshold,multiplier\nstandard,普通,0,1\n".encode("gbk"))
    assert "[tiers]" in invoke("points", "programme", "--tiers", str(path), code=2)
