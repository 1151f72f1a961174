"""``regulars import …`` from the command line: a receipts file loads, reports, re-runs."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from regulars.entrypoints.cli import app
from tests.factories.imports import write_table

runner = CliRunner()


def _import(kind: str, path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["import", kind, str(path)])
    return result.exit_code, result.output


def test_import_receipts_command_loads_reports_and_reruns(cli_db: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    members = write_table(tmp_path / "members.csv", [{"card_no": "CARD0001", "name": "王"}])
    products = write_table(
        tmp_path / "products.csv",
        [{"sku": "SKU1", "department": "GROCERY", "unit_price": "3.50"}],
    )
    assert _import("members", members)[0] == 0
    assert _import("products", products)[0] == 0
    line = {
        "store": "S001",
        "terminal": "T01",
        "receipt_no": "R1",
        "occurred_at": "2026-11-20T10:15:00+08:00",
        "member_card": "CARD0001",
        "sku": "SKU1",
        "quantity": "2",
        "unit_price": "3.50",
        "amount": "7.00",
    }
    path = write_table(
        tmp_path / "receipts.csv",
        [line, {**line, "receipt_no": "R2", "amount": "9.99"}],
    )
    code, out = _import("receipts", path)
    assert code == 1  # one bad row
    assert "quantity × unit_price" in out and "1 bad rows" in out
    code, out = _import("receipts", path)
    assert code == 1
    # run, kind, rows, loaded, unchanged, bad: the good line is unchanged the second time.
    assert "│ receipts │ 2    │ 0      │ 1         │ 1   │" in out


def test_import_returns_command_loads_and_reports(cli_db: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    products = write_table(tmp_path / "products.csv", [{"sku": "SKU1", "unit_price": "3.50"}])
    assert _import("products", products)[0] == 0
    sale = {
        "store": "S001",
        "terminal": "T01",
        "receipt_no": "R1",
        "occurred_at": "2026-11-20T10:15:00+08:00",
        "sku": "SKU1",
        "quantity": "2",
        "unit_price": "3.50",
        "amount": "7.00",
    }
    assert _import("receipts", write_table(tmp_path / "receipts.csv", [sale]))[0] == 0
    back = {
        "store": "S001",
        "terminal": "T02",
        "receipt_no": "B1",
        "occurred_at": "2026-11-21T10:15:00+08:00",
        "original_terminal": "T01",
        "original_receipt_no": "R1",
        "line_no": "1",
        "quantity": "1",
    }
    path = write_table(
        tmp_path / "returns.csv", [back, {**back, "receipt_no": "B2", "quantity": "2"}]
    )
    code, out = _import("returns", path)
    assert code == 1  # B2 would return more than is left
    assert "cannot return 2" in out and "1 bad rows" in out
    code, out = _import("returns", path)
    assert "│ returns │ 2    │ 0      │ 1         │ 1   │" in out
    shown = runner.invoke(app, ["receipts", "find", "B1"])
    assert shown.exit_code == 0 and "-3.50" in shown.output, shown.output
