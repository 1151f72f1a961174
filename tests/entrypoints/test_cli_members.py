"""``regulars members update|consent|consents``, the audit of ``members show`` and
``receipts find --member``: the profile's services from the command line, audited."""

from __future__ import annotations

import json
import re

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from regulars.entrypoints.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def audits(url: str, action: str) -> list[tuple[str, int | None, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT actor, member_id, page FROM audit_event WHERE action = :a ORDER BY id"
                ),
                {"a": action},
            ).all()
    finally:
        engine.dispose()
    return [(str(a), m, str(p)) for a, m, p in rows]


def register(card: str) -> int:
    out = invoke("members", "register", "--card", card, "--name", "林小满")
    return int(re.search(r"registered member (\d+)", out).group(1))  # type: ignore[union-attr]


def test_update_changes_only_the_fields_given_and_is_audited(cli_db: str) -> None:
    invoke("db", "upgrade")
    member = register("CLIUPD1")
    invoke(
        "members",
        "update",
        str(member),
        "--set",
        "birthday=1985-04-02",
        "--set",
        "hobbies=cooking, running",
        "--set",
        "household_size=3",
        "--set",
        "community=梅园小区",
    )
    shown = json.loads(invoke("members", "show", str(member), "--json"))
    assert shown["birthday"] == "1985-04-02"
    assert shown["hobbies"] == ["cooking", "running"]
    assert shown["household_size"] == 3
    assert shown["community"] == "梅园小区"
    assert shown["name"] == "林小满"  # not given, not changed
    invoke("members", "update", str(member), "--set", "community=")
    assert json.loads(invoke("members", "show", str(member), "--json"))["community"] is None
    assert audits(cli_db, "member_update") == [("cli", member, "cli")] * 2
    # Each show is a read of the profile, audited as the page and the API audit theirs.
    assert audits(cli_db, "profile_view") == [("cli", member, "cli")] * 2


def test_update_refuses_bad_fields_naming_them(cli_db: str) -> None:
    invoke("db", "upgrade")
    member = register("CLIUPD2")
    for pair, field in (
        ("shoe_size=42", "shoe_size"),
        ("birthday=1985-13-40", "birthday"),
        ("household_size=0", "household_size"),
        ("noequals", "noequals"),
    ):
        result = runner.invoke(app, ["members", "update", str(member), "--set", pair])
        assert result.exit_code == 2, (pair, result.output)
        assert f"[{field}]" in result.output, (pair, result.output)
    result = runner.invoke(app, ["members", "update", "999", "--set", "name=x"])
    assert result.exit_code == 1
    assert audits(cli_db, "member_update") == []


def test_consent_grant_withdraw_and_history(cli_db: str) -> None:
    invoke("db", "upgrade")
    member = register("CLICON1")
    invoke("members", "consent", str(member), "marketing", "sms", "--grant")
    invoke(
        "members", "consent", str(member), "marketing", "sms", "--withdraw", "--note", "by phone"
    )
    shown = json.loads(invoke("members", "show", str(member), "--json"))
    sms = [c for c in shown["consents"] if (c["purpose"], c["channel"]) == ("marketing", "sms")]
    assert [c["granted"] for c in sms] == [False]
    history = invoke("members", "consents", str(member))
    assert "by phone" in history
    assert history.count("cli") == 2
    assert [m for _a, m, _p in audits(cli_db, "consent_change")] == [member, member]
    assert audits(cli_db, "consent_history") == [("cli", member, "cli")]
    result = runner.invoke(app, ["members", "consent", str(member), "spam", "sms", "--grant"])
    assert result.exit_code == 2
    assert "[purpose]" in result.output


def test_receipts_of_a_member_are_found_and_the_read_audited(cli_db: str) -> None:
    invoke("db", "upgrade")
    member = register("CLIREC1")
    result = runner.invoke(app, ["receipts", "find", "--member", str(member)])
    assert result.exit_code == 0, result.output
    assert audits(cli_db, "receipts_view") == [("cli", member, "cli")]


def test_values_no_column_holds_are_reported_not_a_traceback(cli_db: str) -> None:
    invoke("db", "upgrade")
    for args in (
        ["members", "show", "99999999999999999999"],
        ["receipts", "show", "99999999999999999999"],
        ["receipts", "find", "--day", "0001-01-01"],
        ["points", "show", "9223372036854775808"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert "out of range" in result.output, args
