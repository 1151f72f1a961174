"""The imports API: upload, run, report; admins only; bad uploads are 4xx, never 500."""

from __future__ import annotations

import io

import polars as pl
import pytest

from regulars.imports.service import report_path, upload_path
from tests.factories.world import World, build_world

MEMBERS_CSV = b"card_no,mobile,name\nC3000001,13900003001,Ann\nC3000002,123,Ben\n"


@pytest.fixture
def world(uow) -> World:
    return build_world(uow)


def _upload(client, world, kind: str, name: str, content: bytes, role: str = "admin"):
    return client.post(
        f"/api/v1/imports/{kind}", files={"file": (name, content)}, headers=world.staff(role)
    )


def test_upload_reports_bad_rows_and_serves_run_and_report(client, world) -> None:
    answer = _upload(client, world, "members", "members.csv", MEMBERS_CSV)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["rows_total"], body["rows_loaded"], body["rows_bad"]) == (2, 1, 1)
    assert body["errors"][0]["line"] == 3 and body["errors"][0]["column"] == "mobile"
    assert body["errors_truncated"] is False
    run = client.get(f"/api/v1/imports/{body['id']}", headers=world.staff())
    assert run.status_code == 200 and run.json()["rows_loaded"] == 1
    report = client.get(body["report_url"], headers=world.staff())
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = report.text.splitlines()
    assert lines[0] == "line,column,reason,value" and lines[1].startswith("3,mobile,")
    again = _upload(client, world, "members", "members.csv", MEMBERS_CSV).json()
    assert (again["rows_loaded"], again["rows_unchanged"], again["rows_bad"]) == (0, 1, 1)


def test_parquet_upload(client, world) -> None:
    buffer = io.BytesIO()
    pl.DataFrame(
        {"sku": ["API1", "API2"], "name_en": ["One", "Two"], "unit_price": [1.5, -2.0]}
    ).write_parquet(buffer)
    body = _upload(client, world, "products", "p.parquet", buffer.getvalue()).json()
    assert (body["rows_loaded"], body["rows_bad"]) == (1, 1)
    assert body["errors"][0]["column"] == "unit_price"


def test_cashier_is_refused_and_login_required(client, world) -> None:
    assert (
        _upload(client, world, "members", "m.csv", MEMBERS_CSV, role="cashier").status_code == 403
    )
    assert (
        client.post("/api/v1/imports/members", files={"file": ("m.csv", MEMBERS_CSV)}).status_code
        == 401
    )
    assert client.get("/api/v1/imports/1", headers=world.staff("cashier")).status_code == 403


@pytest.mark.parametrize(
    ("kind", "name", "content", "field"),
    [
        ("shoes", "m.csv", MEMBERS_CSV, "kind"),
        ("members", "m.xlsx", MEMBERS_CSV, "file"),
        ("members", "m.csv", b"", "file"),
        ("products", "p.csv", b"name_en\nx\n", "file"),
        ("members", "m.csv", b"card_no,shoe_size\nC1,42\n", "file"),
        ("receipts", "r.parquet", b"not parquet at all", "file"),
        ("members", "m.csv", b"card_no\n\xff\xfe\n", "file"),
    ],
)
def test_bad_uploads_are_4xx_naming_the_problem(client, world, kind, name, content, field) -> None:
    answer = _upload(client, world, kind, name, content)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_unknown_run_is_404(client, world) -> None:
    assert client.get("/api/v1/imports/999999", headers=world.staff()).status_code == 404
    assert client.get("/api/v1/imports/999999/report", headers=world.staff()).status_code == 404


def test_runs_that_share_an_id_never_share_a_report_or_upload_file() -> None:
    # Run ids are unique per database only; a server beside the suite shares its var_dir.
    assert report_path(1, "members") != report_path(1, "members")
    assert upload_path(1, "m.csv", "a" * 64) != upload_path(1, "m.csv", "b" * 64)


def test_reasons_are_written_in_the_uploaders_language(client, world) -> None:
    content = (
        b"card_no,mobile,name\n"
        b"C3000011,13900003011,Ann\nC3000011,13900003012,Ann\nC3000012,123,Bo\n"
    )
    answers = {}
    for language in ("zh-CN", "en"):
        answer = client.post(
            "/api/v1/imports/members",
            files={"file": ("people.csv", content)},
            headers={**world.staff(), "Accept-Language": language},
        )
        assert answer.status_code == 201, answer.text
        answers[language] = answer.json()
    zh = {e["line"]: e["reason"] for e in answers["zh-CN"]["errors"]}
    en = {e["line"]: e["reason"] for e in answers["en"]["errors"]}
    # A domain rule's message (the mobile) and the import's own (the repeated card).
    assert zh[4] == "123 不是有效的大陆手机号" and en[4] == "123 is not a mainland mobile number"
    assert zh[3] == "与第 2 行重复" and en[3] == "repeats line 2"
    report = client.get(answers["zh-CN"]["report_url"], headers=world.staff())
    assert "123 不是有效的大陆手机号" in report.text and "与第 2 行重复" in report.text
