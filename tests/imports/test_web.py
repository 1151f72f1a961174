"""The import page: upload, progress, counts and the bad rows with their report."""

from __future__ import annotations

import re

from sqlalchemy import select

from regulars.catalog.models import Product
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import ean13


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(["sku,barcode,name_en,unit_price", *rows]) + "\n").encode()


def _post(client, token: str, name: str, content: bytes):
    return client.post(
        "/imports",
        data={"csrf_token": token, "kind": "products"},
        files={"file": (name, content, "text/csv")},
        follow_redirects=True,
    )


def test_upload_shows_counts_and_bad_rows(client, uow) -> None:
    make_staff(uow, "imp", "admin")
    login(client, "imp")
    token = csrf_of(client.get("/imports").text)
    content = _csv(
        [f"W1,{ean13(7001)},Walnuts,12.00", "W2,6901234567891,Bad barcode,3.00", "W3,,Raisins,-1"]
    )
    answer = _post(client, token, "nuts.csv", content)
    assert answer.status_code == 200
    assert re.search(r"3 rows: 1 loaded, 0 unchanged, 2 bad", answer.text)
    assert "check digit" in answer.text and ">3<" in answer.text and ">4<" in answer.text
    run_id = int(re.search(r"/imports/(\d+)/report", answer.text).group(1))  # type: ignore[union-attr]
    report = client.get(f"/imports/{run_id}/report")
    assert report.status_code == 200 and report.text.startswith("line,column,reason,value")
    assert uow.session.scalars(select(Product.sku).where(Product.sku == "W1")).one() == "W1"
    again = _post(client, token, "nuts.csv", content)
    assert re.search(r"3 rows: 0 loaded, 1 unchanged, 2 bad", again.text)
    listing = client.get("/imports")
    assert "nuts.csv" in listing.text


def test_bad_upload_is_a_clear_error(client, uow) -> None:
    make_staff(uow, "imp2", "admin")
    login(client, "imp2")
    token = csrf_of(client.get("/imports").text)
    empty = client.post(
        "/imports",
        data={"csrf_token": token, "kind": "products"},
        files={"file": ("e.csv", b"", "text/csv")},
    )
    assert empty.status_code == 422 and "empty" in empty.text
    kind = client.post(
        "/imports",
        data={"csrf_token": token, "kind": "stuff"},
        files={"file": ("e.csv", b"a\n1\n", "text/csv")},
    )
    assert kind.status_code == 422
    columns = client.post(
        "/imports",
        data={"csrf_token": token, "kind": "products"},
        files={"file": ("x.csv", b"nope\n1\n", "text/csv")},
        follow_redirects=True,
    )
    assert columns.status_code == 200 and "failed" in columns.text.lower()


def test_only_admins_import(client, uow) -> None:
    make_staff(uow, "mk", "marketing")
    login(client, "mk")
    assert client.get("/imports").status_code == 403


def test_a_queued_run_reports_in_its_uploaders_language(client, uow) -> None:
    make_staff(uow, "imp_zh", "admin", locale="zh_CN")
    login(client, "imp_zh")
    token = csrf_of(client.get("/imports").text)
    content = _csv([f"Z1,{ean13(7101)},Figs,5.00", f"Z1,{ean13(7102)},Figs again,5.00"])
    answer = _post(client, token, "figs.csv", content)
    assert answer.status_code == 200
    run_id = int(re.search(r"/imports/(\d+)/report", answer.text).group(1))  # type: ignore[union-attr]
    assert "与第 2 行重复" in client.get(f"/imports/{run_id}/report").text
    assert "与第 2 行重复" in answer.text
