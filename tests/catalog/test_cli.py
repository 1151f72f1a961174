"""``regulars products find|show|add|set`` against a fresh database: a till's placeholder
found with ``--review`` and completed with ``set``; errors name their field and exit 1."""

from __future__ import annotations

import re

from sqlalchemy import select
from typer.testing import CliRunner

from regulars.catalog import service as catalog_service
from regulars.core import config as config_module
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app
from regulars.staff.models import AuditEvent
from tests.factories.world import ean13

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _placeholder(url: str, barcode: str) -> int:
    """A product as a till creates it when it sells a barcode the catalogue lacks."""
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            product = catalog_service.product_placeholder(uow, barcode=barcode, sku=None)
            uow.commit()
            return product.id
    finally:
        engine.dispose()


def _audit_actions(url: str) -> list[tuple[str, str, dict[str, object]]]:
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            events = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            return [(e.action, e.actor, e.detail) for e in events]
    finally:
        engine.dispose()


def test_find_show_add_and_complete(cli_db: str) -> None:
    invoke("db", "upgrade")
    barcode = ean13(123_456)
    out = invoke(
        "products",
        "add",
        "--sku",
        "RICE-5",
        "--barcode",
        ean13(5),
        "--name-zh",
        "东北大米",
        "--name-en",
        "Rice 5kg",
        "--department",
        "GROCERY",
        "--category",
        "Rice",
        "--price",
        "39.90",
        "--cost",
        "30",
        "--tags",
        "staple，family",
    )
    added = int(re.search(r"product RICE-5 added \(id (\d+)\)", out).group(1))  # type: ignore[union-attr]
    placeholder = _placeholder(cli_db, barcode)
    # --review lists only the till's product; plain find finds both by what they hold.
    review = invoke("products", "find", "--review")
    assert f"BC{barcode}" in review and "RICE-5" not in review
    assert "RICE-5" in invoke("products", "find", "rice")
    assert "Nothing found." in invoke("products", "find", "rice", "--review")
    # show takes a barcode, a SKU or an id.
    for key in (ean13(5), "RICE-5", str(added)):
        shown = invoke("products", "show", key)
        assert "东北大米" in shown and "39.90" in shown and "staple, family" in shown
    assert f"BC{barcode}" in invoke("products", "show", barcode)
    assert f"BC{barcode}" in invoke("products", "show", str(placeholder))
    # A price alone leaves it to review; a name completes it.
    out = invoke("products", "set", str(placeholder), "--price", "4.50")
    assert re.search(r"to review\s*│\s*yes", out)
    out = invoke("products", "set", str(placeholder), "--name-en", "Crisps", "--inactive")
    assert re.search(r"to review\s*│\s*no", out) and re.search(r"active\s*│\s*no", out)
    assert "Nothing found." in invoke("products", "find", "--review")
    # An empty value empties the field.
    out = invoke("products", "set", str(added), "--price", "", "--brand", "")
    assert "39.90" not in invoke("products", "show", "RICE-5")
    # The manufacturer by its code: named (added if new), then removed with an empty one.
    out = invoke("products", "set", str(added), "--manufacturer", "M-RICE")
    assert re.search(r"Manufacturer code\s*│\s*M-RICE", out)
    out = invoke("products", "set", str(added), "--manufacturer", "")
    assert "M-RICE" not in out
    actions = _audit_actions(cli_db)
    assert [a for a, _who, _d in actions] == ["product_create"] + ["product_update"] * 5
    assert {who for _a, who, _d in actions} == {"cli"}
    assert [d["reviewed"] for _a, _w, d in actions[1:]] == [False, True, False, False, False]


def test_errors_name_the_field_and_exit_1(cli_db: str) -> None:
    invoke("db", "upgrade")
    invoke("products", "add", "--sku", "A1", "--barcode", ean13(1))
    out = invoke("products", "add", "--sku", "A1", code=1)
    assert "SKU A1 already exists" in out and "[sku]" in out
    out = invoke("products", "add", "--sku", "A2", "--barcode", ean13(1), code=1)
    assert "already exists" in out and "[barcode]" in out
    out = invoke("products", "add", "--sku", "A3", "--price", "abc", code=1)
    assert "unit_price:" in out and "[unit_price]" in out
    out = invoke("products", "add", "--sku", "A4", "--barcode", "6901234567891", code=1)
    assert "[barcode]" in out
    out = invoke("products", "set", "999", "--name-en", "x", code=1)
    assert "product 999 not found" in out
    out = invoke("products", "set", "1", "--cost", "-2", code=1)
    assert "[cost_price]" in out
    assert "not found" in invoke("products", "show", "NOPE", code=1)
    assert "A2" not in invoke("products", "find", "A2")


def test_messages_in_chinese(cli_db: str, monkeypatch) -> None:
    invoke("db", "upgrade")
    monkeypatch.setenv("REGULARS_DEFAULT_LOCALE", "zh_CN")
    config_module.get_settings.cache_clear()
    out = invoke("products", "add", "--sku", "Z1", "--price", "abc", code=1)
    assert "unit_price：不是数字" in out
    out = invoke("products", "add", "--sku", "Z1", "--name-zh", "牛奶")
    assert "Z1" in out and "added" not in out
