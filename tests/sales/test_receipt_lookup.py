"""Finding and reading a receipt: the queries, the staff API, the staff pages and the CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from typer.testing import CliRunner

from regulars.catalog import service as catalog_service
from regulars.catalog.schemas import StoreCreate
from regulars.core.db import make_engine, make_session_factory
from regulars.core.errors import NotFound
from regulars.core.timeutil import local_day
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app as cli_app
from regulars.sales import pages, queries
from regulars.sales import service as sales_service
from regulars.sales.schemas import ReceiptIn, ReceiptRead, ReturnIn
from regulars.staff.models import AuditEvent
from tests.factories.web import login, make_staff
from tests.factories.world import World, build_world, receipt_payload

runner = CliRunner()


@pytest.fixture
def world(uow) -> World:
    return build_world(uow)


def _sell(client, headers: dict[str, str], payload: dict[str, object]) -> int:
    answer = client.post("/api/v1/receipts", json=payload, headers=headers)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["receipt_id"])


def _return(client, world: World, receipt_no: str, original: str, lines) -> int:
    body = {
        "receipt_no": receipt_no,
        "occurred_at": "2026-11-21T09:00:00+08:00",
        "original_receipt_no": original,
        "lines": [{"line_no": n, "quantity": q} for n, q in lines],
    }
    answer = client.post("/api/v1/returns", json=body, headers=world.till())
    assert answer.status_code == 201, answer.text
    return int(answer.json()["receipt_id"])


def _other_till(uow) -> dict[str, str]:
    """A second store (S002) with a till T01 of the same code as the world's."""
    catalog_service.store_create(uow, data=StoreCreate(code="S002", name="Other store"))
    catalog_service.terminal_create(uow, store_code="S002", code="T01")
    key = catalog_service.terminal_issue_key(uow, store_code="S002", terminal_code="T01")
    uow.commit()
    return {"X-Api-Key": key.api_key}


@pytest.fixture
def sales(client, uow, world: World) -> dict[str, int]:
    """S-1 (two lines, a member) with two returns of its first line, S-2 later the same
    day without a member, and O-1 at another store; receipt ids by number."""
    ids = {"S-1": _sell(client, world.till(), receipt_payload(world, "S-1"))}
    later = {
        **receipt_payload(world, "S-2", member=False),
        "occurred_at": "2026-11-20T18:00:00+08:00",
    }
    ids["S-2"] = _sell(client, world.till(), later)
    ids["RET-1"] = _return(client, world, "RET-1", "S-1", [(1, "1")])
    ids["RET-2"] = _return(client, world, "RET-2", "S-1", [(1, "0.5")])
    other = {**receipt_payload(world, "O-1"), "occurred_at": "2026-11-19T08:00:00+08:00"}
    ids["O-1"] = _sell(client, _other_till(uow), other)
    return ids


# --- queries -------------------------------------------------------------------------


def test_find_by_number_store_and_terminal(uow, world, sales) -> None:
    (one,) = queries.receipt_find(uow.session, receipt_no="S-1")
    assert (one.id, one.store, one.terminal, one.kind) == (sales["S-1"], "S001", "T01", "sale")
    assert one.source == "till" and one.member_id == world.members[0].id
    (ret,) = queries.receipt_find(uow.session, receipt_no="RET-1")
    assert ret.kind == "return" and ret.total < 0
    at_other = queries.receipt_find(uow.session, store_code="S002")
    assert [r.receipt_no for r in at_other] == ["O-1"]
    # Both stores have a till T01; newest first.
    on_t01 = queries.receipt_find(uow.session, terminal_code="T01")
    assert [r.receipt_no for r in on_t01] == ["RET-2", "RET-1", "S-2", "S-1", "O-1"]
    both = queries.receipt_find(uow.session, store_code="S001", terminal_code="T01", limit=2)
    assert [r.receipt_no for r in both] == ["RET-2", "RET-1"]
    assert queries.receipt_find(uow.session, receipt_no="S-1", store_code="S002") == []
    assert queries.receipt_find(uow.session, receipt_no="s-1") == []  # exact number only


def test_find_keeps_to_the_stores_given(uow, world, sales) -> None:
    mine = queries.receipt_find(uow.session, terminal_code="T01", store_ids=[world.store.id])
    assert "O-1" not in {r.receipt_no for r in mine} and len(mine) == 4
    assert queries.receipt_find(uow.session, receipt_no="O-1", store_ids=[world.store.id]) == []
    assert queries.receipt_find(uow.session, receipt_no="S-1", store_ids=[]) == []


def test_detail_shows_returned_quantities_returns_and_original(uow, world, sales) -> None:
    sale = queries.receipt_detail(uow.session, receipt_id=sales["S-1"])
    assert (sale.store, sale.terminal, sale.kind, sale.source) == ("S001", "T01", "sale", "till")
    assert sale.member_id == world.members[0].id and sale.cashier == "c01"
    assert sale.payments[0]["method"] == "wechat_pay" and sale.recorded_at is not None
    first, second = sale.lines
    assert first.line_no == 1 and first.product_id == world.products[0].id
    assert (first.name_zh, first.name_en, first.sku) == ("商品1", "Product 1", "SKU0001")
    assert first.barcode == world.products[0].barcode
    assert first.quantity == Decimal("2") and first.returned == Decimal("1.5")
    assert second.returned == Decimal("0")
    assert [r.receipt_no for r in sale.returns] == ["RET-1", "RET-2"]
    assert sale.returns[0].id == sales["RET-1"] and sale.returns[0].total < 0
    assert sale.original is None
    ret = queries.receipt_detail(uow.session, receipt_id=sales["RET-1"])
    assert ret.kind == "return" and ret.original is not None
    assert (ret.original.id, ret.original.receipt_no) == (sales["S-1"], "S-1")
    assert ret.returns == [] and ret.lines[0].quantity == Decimal("-1")
    assert ret.lines[0].original_line_id is not None and ret.lines[0].returned == Decimal("0")


def test_detail_reads_a_fixed_number_of_statements(uow, world, sales) -> None:
    selects: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = uow.session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        queries.receipt_detail(uow.session, receipt_id=sales["S-1"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(selects) == 3  # head, lines with returned quantities, returns


def test_detail_of_a_missing_or_out_of_scope_receipt(uow, world, sales) -> None:
    with pytest.raises(NotFound) as missing:
        queries.receipt_detail(uow.session, receipt_id=sales["O-1"] + 1000)
    assert missing.value.field == "receipt_id"
    with pytest.raises(NotFound):
        queries.receipt_detail(uow.session, receipt_id=sales["O-1"], store_ids=[world.store.id])
    assert queries.receipt_detail(uow.session, receipt_id=sales["O-1"], store_ids=None)


def test_find_on_a_day_a_page_at_a_time(uow, world, sales) -> None:
    # The 20th in Shanghai: S-1 (10:15) and S-2 (18:00); O-1 is the 19th, returns the 21st.
    since, until = local_day(date(2026, 11, 20), "Asia/Shanghai")
    assert since == datetime(2026, 11, 19, 16, tzinfo=UTC)
    on_day = queries.receipt_find(uow.session, since=since, until=until)
    assert [r.receipt_no for r in on_day] == ["S-2", "S-1"]
    pages = [
        [
            r.receipt_no
            for r in queries.receipt_find(uow.session, terminal_code="T01", limit=2, offset=n)
        ]
        for n in (0, 2, 4)
    ]
    assert pages == [["RET-2", "RET-1"], ["S-2", "S-1"], ["O-1"]]


# --- API -----------------------------------------------------------------------------


def test_api_search_by_day_and_offset(client, world, sales) -> None:
    staff = world.staff("service_desk")
    on_day = client.get("/api/v1/receipts", params={"day": "2026-11-19"}, headers=staff)
    assert [r["receipt_no"] for r in on_day.json()] == ["O-1"]
    at_store = client.get(
        "/api/v1/receipts", params={"store": "S001", "day": "2026-11-21"}, headers=staff
    ).json()
    assert [r["receipt_no"] for r in at_store] == ["RET-2", "RET-1"]
    later = client.get(
        "/api/v1/receipts", params={"terminal": "T01", "offset": 3}, headers=staff
    ).json()
    assert [r["receipt_no"] for r in later] == ["S-1", "O-1"]
    bad = client.get("/api/v1/receipts", params={"day": "20-11-2026"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "day"


def test_api_search_and_detail(client, world, sales) -> None:
    staff = world.staff("service_desk")
    found = client.get("/api/v1/receipts", params={"receipt_no": "S-1"}, headers=staff)
    assert found.status_code == 200, found.text
    assert [(r["id"], r["store"], r["terminal"]) for r in found.json()] == [
        (sales["S-1"], "S001", "T01")
    ]
    at_store = client.get("/api/v1/receipts", params={"store": "S002"}, headers=staff).json()
    assert [r["receipt_no"] for r in at_store] == ["O-1"]
    detail = client.get(f"/api/v1/receipts/{sales['S-1']}", headers=staff)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert set(ReceiptRead.model_fields) <= set(body)  # the earlier answer's fields stay
    assert body["store"] == "S001" and Decimal(body["lines"][0]["returned"]) == Decimal("1.5")
    assert [r["receipt_no"] for r in body["returns"]] == ["RET-1", "RET-2"]
    ret = client.get(f"/api/v1/receipts/{sales['RET-1']}", headers=staff).json()
    assert ret["original"]["receipt_no"] == "S-1"
    missing = client.get(f"/api/v1/receipts/{sales['O-1'] + 1000}", headers=staff)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "receipt_id"


def test_api_search_needs_a_criterion_of_bounded_length(client, world) -> None:
    staff = world.staff("admin")
    bare = client.get("/api/v1/receipts", headers=staff)
    assert bare.status_code == 422
    assert bare.json()["error"]["field"] == "receipt_no"
    zh = client.get("/api/v1/receipts", headers={**staff, "Accept-Language": "zh-CN"})
    assert "小票号" in zh.json()["error"]["message"]
    empty = client.get("/api/v1/receipts", params={"receipt_no": "", "store": ""}, headers=staff)
    assert empty.status_code == 422
    long = client.get("/api/v1/receipts", params={"receipt_no": "X" * 65}, headers=staff)
    assert long.status_code == 422 and long.json()["error"]["field"] == "receipt_no"


def test_api_needs_the_sales_read_permission(client, world, sales) -> None:
    for path in ("/api/v1/receipts?receipt_no=S-1", f"/api/v1/receipts/{sales['S-1']}"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=world.staff("cashier")).status_code == 403
        assert client.get(path, headers=world.staff("analyst")).status_code == 200


def test_api_store_manager_sees_their_stores_only(client, world, sales) -> None:
    manager = world.staff("store_manager")  # the world's managers run S001
    own = client.get(f"/api/v1/receipts/{sales['S-1']}", headers=manager)
    assert own.status_code == 200
    other = client.get(f"/api/v1/receipts/{sales['O-1']}", headers=manager)
    assert other.status_code == 404  # not 403: another store's ids are not confirmed
    assert client.get("/api/v1/receipts?store=S002", headers=manager).json() == []
    assert len(client.get("/api/v1/receipts?terminal=T01", headers=manager).json()) == 4
    assert len(client.get("/api/v1/receipts?terminal=T01", headers=world.staff()).json()) == 5


# --- pages ---------------------------------------------------------------------------


def test_pages_find_and_show_a_receipt_in_both_languages(client, uow, world, sales) -> None:
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    home = client.get("/receipts")
    assert home.status_code == 200
    assert 'href="/receipts" aria-current="page"' in home.text
    assert "Give a receipt number, a store code, a terminal code or a day." in home.text
    found = client.get("/receipts", params={"receipt_no": "S-1"})
    assert f'href="/receipts/{sales["S-1"]}"' in found.text
    assert "<td>till</td>" in found.text and "<td>sale</td>" in found.text
    nothing = client.get("/receipts", params={"store": "S404"})
    assert "Nothing found." in nothing.text
    shown = client.get(f"/receipts/{sales['S-1']}")
    assert shown.status_code == 200
    assert "Returned" in shown.text and "WeChat Pay" in shown.text and "Product 1" in shown.text
    assert "<td>1.5</td>" in shown.text  # returned of line 1
    assert f'href="/receipts/{sales["RET-1"]}"' in shown.text
    assert f'href="/members/{world.members[0].id}"' in shown.text
    assert world.members[0].card_no not in shown.text and "13912340001" not in shown.text
    ret = client.get(f"/receipts/{sales['RET-1']}")
    assert f'href="/receipts/{sales["S-1"]}" data-testid="original-link"' in ret.text
    assert "Original receipt" in ret.text
    no_member = client.get(f"/receipts/{sales['S-2']}")
    assert 'data-testid="member-link"' not in no_member.text
    make_staff(uow, "desk_zh", "service_desk", locale="zh_CN")
    login(client, "desk_zh")
    zh_found = client.get("/receipts", params={"receipt_no": "S-1"})
    assert "小票号" in zh_found.text and "<td>收银机</td>" in zh_found.text
    zh_shown = client.get(f"/receipts/{sales['S-1']}")
    assert "已退" in zh_shown.text and "商品1" in zh_shown.text and "微信支付" in zh_shown.text
    assert "原小票" in client.get(f"/receipts/{sales['RET-1']}").text


def test_pages_search_by_day_and_turn_pages(client, uow, world, sales, monkeypatch) -> None:
    monkeypatch.setattr(pages, "LIMIT", 2)
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    first = client.get("/receipts", params={"terminal": "T01", "day": ""})
    assert first.status_code == 200
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    assert f'href="/receipts/{sales["RET-2"]}"' in first.text
    second = client.get("/receipts", params={"terminal": "T01", "page": 2})
    assert f'href="/receipts/{sales["S-2"]}"' in second.text
    assert 'rel="prev"' in second.text and "day=&page=1" in second.text
    day = client.get("/receipts", params={"day": "2026-11-19"})
    assert f'href="/receipts/{sales["O-1"]}"' in day.text and 'value="2026-11-19"' in day.text
    assert 'rel="next"' not in day.text


def test_pages_keep_store_managers_to_their_stores(client, uow, world, sales) -> None:
    make_staff(uow, "sm", "store_manager", stores=[world.store.id])
    login(client, "sm")
    assert client.get(f"/receipts/{sales['S-1']}").status_code == 200
    assert client.get(f"/receipts/{sales['O-1']}").status_code == 404
    other = client.get("/receipts", params={"receipt_no": "O-1"})
    assert "Nothing found." in other.text and "/receipts/" + str(sales["O-1"]) not in other.text
    # The member's profile shows their receipts at the manager's stores, and says how many
    # are elsewhere rather than link to pages the manager may not open.
    profile = client.get(f"/members/{world.members[0].id}")
    assert f'href="/receipts/{sales["S-1"]}"' in profile.text and ">O-1<" not in profile.text
    assert "1 receipts at other stores are not shown." in profile.text
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    everything = client.get(f"/members/{world.members[0].id}")
    assert f'href="/receipts/{sales["O-1"]}"' in everything.text
    assert "at other stores" not in everything.text


def test_api_member_receipts_keep_store_managers_to_their_stores(client, uow, world, sales) -> None:
    member = world.members[0].id
    path = f"/api/v1/members/{member}/receipts"
    mine = client.get(path, headers=world.staff("store_manager")).json()
    assert "O-1" not in {r["receipt_no"] for r in mine} and len(mine) == 3
    every = client.get(path, headers=world.staff("admin")).json()
    assert {r["receipt_no"] for r in every} == {"S-1", "RET-1", "RET-2", "O-1"}
    # A member's history is a read of their profile: each one is audited.
    reads = uow.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "receipts_view").order_by(AuditEvent.id)
    ).all()
    assert [(e.member_id, e.detail["receipts"]) for e in reads] == [(member, 3), (member, 4)]


def test_pages_need_the_sales_read_permission(client, uow, world) -> None:
    assert client.get("/receipts", follow_redirects=False).status_code in (302, 303, 307)
    make_staff(uow, "cash", "cashier")
    login(client, "cash")
    assert client.get("/receipts").status_code == 403
    assert 'href="/receipts"' not in client.get("/products").text


# --- CLI -----------------------------------------------------------------------------


def _invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_cli_find_and_show(cli_db: str) -> None:
    engine = make_engine(cli_db)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            world = build_world(uow)
            recorded = sales_service.receipt_record(
                uow,
                store=world.store,
                terminal=world.terminal,
                data=ReceiptIn.model_validate(receipt_payload(world, "C-1")),
            )
            back = ReturnIn(
                receipt_no="CR-1",
                occurred_at="2026-11-21T09:00:00+08:00",  # type: ignore[arg-type]
                original_receipt_no="C-1",
                lines=[{"line_no": 2, "quantity": "1.5"}],  # type: ignore[list-item]
            )
            returned = sales_service.return_record(
                uow, store=world.store, terminal=world.terminal, data=back
            )
            uow.commit()
            sale_id = recorded.answer["receipt_id"]
            return_id = returned.answer["receipt_id"]
    finally:
        engine.dispose()
    found = _invoke("receipts", "find", "C-1")
    assert "C-1" in found and "S001" in found and "T01" in found and "till" in found
    assert "Nothing found." in _invoke("receipts", "find", "C-1", "--store", "S999")
    assert "C-1" in _invoke("receipts", "find", "--day", "2026-11-20")
    assert "C-1" not in _invoke("receipts", "find", "--store", "S001", "--day", "2026-11-21")
    assert "give a receipt number" in _invoke("receipts", "find", code=1)
    shown = _invoke("receipts", "show", str(sale_id))
    assert "Receipt C-1" in shown and "Returned" in shown and "1.5" in shown
    assert "CR-1" in shown and "WeChat Pay" in shown
    assert "C-1" in _invoke("receipts", "show", str(return_id))  # its original
    missing = _invoke("receipts", "show", "999999", code=1)
    assert "receipt 999999 not found [receipt_id]" in missing  # the field, not taken for markup
