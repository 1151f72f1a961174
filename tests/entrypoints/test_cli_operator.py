"""The operator's read commands: ``jobs runs``, ``stores list``, ``stores terminals`` and
``import runs`` show what the /jobs, /stores and /imports pages show, never a till's key."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from regulars.core import config as config_module
from regulars.entrypoints.cli import app
from tests.factories.imports import write_table

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def rows(out: str, first: str) -> list[str]:
    """The table lines whose first cell is ``first``."""
    return [line for line in out.splitlines() if re.match(rf"│ {re.escape(first)}\s", line)]


def test_jobs_runs_newest_first_filtered_and_limited(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("jobs", "run", "portal-purge", "--day", "2026-03-01", "--force")
    invoke("jobs", "run", "coupons-expire", "--day", "2026-03-02", "--force")
    out = invoke("jobs", "runs")
    assert "Status" in out and "Result" in out
    days = re.findall(r"2026-03-0\d", out)
    assert days[:2] == ["2026-03-02", "2026-03-01"]  # newest first
    assert "done" in out and '"deleted"' in out
    only = invoke("jobs", "runs", "--job", "portal-purge")
    assert "2026-03-01" in only and "2026-03-02" not in only
    assert "2026-03-01" not in invoke("jobs", "runs", "--limit", "1")
    assert "no job named nope" in invoke("jobs", "runs", "--job", "nope", code=1)
    invoke("jobs", "runs", "--limit", "0", code=2)


def test_stores_list_and_terminals_show_key_state_not_keys(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("stores", "add", "S9", "九店", "--city", "杭州")
    invoke("stores", "add", "S8", "八店")
    keys = [
        re.search(r"rgt_[0-9a-f]+_\S+", invoke("stores", "add-terminal", "S9", till)).group(0)  # type: ignore[union-attr]
        for till in ("T1", "T2")
    ]
    invoke("stores", "revoke-key", "S9", "T2")
    listed = invoke("stores", "list")
    (s9,) = rows(listed, "S9")
    assert "九店" in s9 and "杭州" in s9 and re.search(r"│ 2\s+│ 1\s+│$", s9)
    (s8,) = rows(listed, "S8")
    assert re.search(r"│ 0\s+│ 0\s+│$", s8)
    assert rows(listed, "S8") and listed.index("S8") < listed.index("S9")  # by code
    tills = invoke("stores", "terminals", "S9")
    (t1,) = rows(tills, "T1")
    (t2,) = rows(tills, "T2")
    assert "live" in t1 and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", t1)
    assert "revoked" in t2
    for key in keys:
        assert key not in tills and key.split("_")[1] not in tills  # neither key nor prefix
    assert "T1" not in invoke("stores", "terminals", "S8")
    assert "store NOPE not found" in invoke("stores", "terminals", "NOPE", code=1)


def test_import_runs_newest_first(cli_db: str, tmp_path: Path) -> None:
    invoke("db", "upgrade")
    assert "Run" in invoke("import", "runs")  # no runs yet: the headings only
    members = write_table(tmp_path / "m.csv", [{"card_no": "CARD0001", "name": "王"}])
    products = write_table(
        tmp_path / "p.csv", [{"sku": "P1", "unit_price": "3.50"}, {"sku": "P2", "unit_price": "x"}]
    )
    invoke("import", "members", str(members))
    invoke("import", "products", str(products), code=1)
    out = invoke("import", "runs")
    (first,) = rows(out, "1")
    (second,) = rows(out, "2")
    assert out.index(second) < out.index(first)  # newest first
    assert "members" in first and "m.csv" in first and "done" in first
    assert re.search(r"│ 1\s+│ 0\s+│ 1\s+│$", second)  # loaded, unchanged, bad
    limited = invoke("import", "runs", "--limit", "1")
    assert rows(limited, "2") and not rows(limited, "1")


def test_operator_commands_in_chinese(cli_db: str, monkeypatch) -> None:
    invoke("db", "upgrade")
    invoke("stores", "add", "S9", "九店")
    invoke("stores", "add-terminal", "S9", "T1")
    invoke("jobs", "run", "portal-purge", "--day", "2026-03-01", "--force")
    monkeypatch.setenv("REGULARS_DEFAULT_LOCALE", "zh_CN")
    config_module.get_settings.cache_clear()
    assert "Live keys" not in invoke("stores", "list")
    tills = invoke("stores", "terminals", "S9")
    assert "Till" not in tills and "live" not in tills
    runs = invoke("jobs", "runs")
    assert "Status" not in runs and "done" not in runs
    assert "Started" not in invoke("import", "runs")
