"""The command line against a fresh database: migrate, register, find, show, merge, tills."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from regulars.core import config as config_module
from regulars.core.crypto import reset_cipher
from regulars.entrypoints.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_members_commands(cli_db: str) -> None:
    invoke("db", "upgrade")
    out = invoke(
        "members",
        "register",
        "--mobile",
        "13912345678",
        "--name",
        "陈一",
        "--consent",
        "marketing:sms",
    )
    first = int(re.search(r"registered member (\d+)", out).group(1))  # type: ignore[union-attr]
    out = invoke("members", "register", "--card", "CARD9001", "--name", "陈一 (card)")
    second = int(re.search(r"registered member (\d+)", out).group(1))  # type: ignore[union-attr]
    assert "陈一" in invoke("members", "find", "13912345678")
    shown = json.loads(invoke("members", "show", str(first), "--json"))
    assert shown["mobile_masked"] == "139****5678"
    assert shown["consents"][0]["purpose"] == "marketing"
    invoke("members", "merge", str(first), str(second), "--reason", "same household")
    merged = json.loads(invoke("members", "show", str(first), "--json"))
    assert merged["card_no"] == "CARD9001"
    assert merged["merges"][0]["merged_id"] == second


def test_bad_input_is_a_clear_error(cli_db: str) -> None:
    invoke("db", "upgrade")
    result = runner.invoke(app, ["members", "register", "--mobile", "12345"])
    assert result.exit_code == 2
    assert "mobile" in result.output
    result = runner.invoke(app, ["members", "show", "999"])
    assert result.exit_code == 1


def test_stores_and_admin(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("stores", "add", "S9", "九店", "--city", "杭州")
    out = invoke("stores", "add-terminal", "S9", "T1")
    assert re.search(r"rgt_[0-9a-f]+_\S+", out)
    assert "one-time password" in invoke("staff", "create-admin")
    assert "already exists" in invoke("staff", "create-admin")
    invoke("stores", "revoke-key", "S9", "T1")


def test_export_erase_and_key_rotation(cli_db: str, tmp_path, monkeypatch) -> None:
    invoke("db", "upgrade")
    out = invoke("members", "register", "--mobile", "13912345679", "--name", "孙二")
    member_id = re.search(r"registered member (\d+)", out).group(1)  # type: ignore[union-attr]
    rotated = invoke("keys", "rotate")
    new_key = re.search(r"REGULARS_DATA_KEY=(\S+)", rotated).group(1)  # type: ignore[union-attr]
    assert "孙二" not in invoke("members", "find", "13912345679")  # the old key no longer matches
    monkeypatch.setenv("REGULARS_DATA_KEY", new_key)
    config_module.get_settings.cache_clear()
    reset_cipher()
    assert "孙二" in invoke("members", "find", "13912345679")  # the blind index was rebuilt
    target = tmp_path / "export.json"
    invoke("members", "export", member_id, "--output", str(target))
    assert json.loads(target.read_text())["profile"]["mobile"] == "+8613912345679"
    assert runner.invoke(app, ["members", "erase", member_id]).exit_code == 2
    invoke("members", "erase", member_id, "--yes")
    assert json.loads(invoke("members", "show", member_id, "--json"))["status"] == "erased"


def test_serve_warns_that_sqlite_gains_nothing_from_more_workers(cli_db: str, monkeypatch) -> None:
    from regulars.entrypoints import cli

    served: list[int] = []
    monkeypatch.setattr(cli, "serve_spread", lambda config: served.append(config.workers))
    out = " ".join(invoke("serve", "--workers", "2", "--no-scheduler").split())
    assert served == [2]
    warned = "SQLite takes one writer at a time: 2 workers are no faster than one" in out
    assert warned == cli_db.startswith("sqlite")
