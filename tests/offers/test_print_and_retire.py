"""A member's list printed from the staff app (page and API, audited, same roles as the
list page), deals retired from their page, and the deal form keeping a retired deal retired."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.offers import pdf, service
from regulars.offers.models import PersonalList
from regulars.staff.models import AuditEvent, StaffAccount
from regulars.staff.sessions import session_create
from tests.factories.world import World
from tests.offers.conftest import deal
from tests.offers.test_till import generate

# The deal form as the page sends it for deal D0 (see tests.offers.conftest.deal).
FORM = {
    "title": "Deal 0",
    "target": "product",
    "kind": "percent",
    "value": "20",
    "valid_from": "2026-11-01T00:00:00+08:00",
    "valid_to": "2026-12-31T00:00:00+08:00",
    "manufacturer_share": "0",
    "store_share": "100",
}


def as_role(client: TestClient, uow: UnitOfWork, role: str) -> str:
    """Log the client in as the world's account of ``role``; returns the CSRF token."""
    account = uow.session.scalars(
        select(StaffAccount).where(StaffAccount.username == f"t_{role}")
    ).one()
    session_id, row = session_create(uow, account=account)
    uow.commit()
    client.cookies.clear()
    client.cookies.set("regulars_session", session_id, domain="testserver.local")
    return row.csrf_token


def prints(uow: UnitOfWork) -> list[AuditEvent]:
    """The audit trail's list prints, oldest first."""
    uow.session.expire_all()
    return list(
        uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "list_print").order_by(AuditEvent.id)
        )
    )


def a_list(uow: UnitOfWork, world: World) -> PersonalList:
    """The first member's list of a generated cycle (one deal on product 1)."""
    deal(uow, world, 0)
    return generate(uow, world, 0)[world.members[0].id]


def test_list_page_prints_the_list_as_pdf_and_audits_it(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    row = a_list(uow, world)
    as_role(client, uow, "service_desk")
    shown = client.get(f"/lists/{row.id}")
    assert shown.status_code == 200
    assert f'href="/lists/{row.id}?format=pdf"' in shown.text
    assert 'data-testid="list-print"' in shown.text
    assert prints(uow) == []  # showing the page is not printing
    # ... but it is a read of the member, audited as such (the page and the API).
    assert client.get(f"/api/v1/lists/{row.id}", headers=world.staff("analyst")).status_code == 200
    views = uow.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "list_view").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor, e.member_id, e.page) for e in views] == [
        ("t_service_desk", world.members[0].id, f"/lists/{row.id}"),
        ("t_analyst", world.members[0].id, f"/api/v1/lists/{row.id}"),
    ]
    answer = client.get(f"/lists/{row.id}?format=pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF") and len(answer.content) > 1500
    assert f"list-{row.code}.pdf" in answer.headers["content-disposition"]
    [event] = prints(uow)
    assert (event.actor, event.action, event.member_id) == (
        "t_service_desk",
        "list_print",
        world.members[0].id,
    )
    assert event.page == f"/lists/{row.id}"
    assert event.detail == {"list_id": row.id, "code": row.code}


def test_list_print_page_refuses_whom_the_list_page_refuses(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    row = a_list(uow, world)
    for role, status in (("cashier", 403), ("store_manager", 200), ("analyst", 200)):
        as_role(client, uow, role)
        assert client.get(f"/lists/{row.id}").status_code == status, role
        assert client.get(f"/lists/{row.id}?format=pdf").status_code == status, role
    assert [e.actor for e in prints(uow)] == ["t_store_manager", "t_analyst"]
    as_role(client, uow, "admin")
    assert client.get("/lists/999999?format=pdf").status_code == 404
    assert client.get("/lists/999999").status_code == 404
    assert client.get(f"/lists/{row.id}?format=xml").status_code == 422
    assert len(prints(uow)) == 2


def test_a_control_entry_has_nothing_to_print(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    row = a_list(uow, world)
    row.group, row.code = "control", None
    uow.commit()
    as_role(client, uow, "admin")
    shown = client.get(f"/lists/{row.id}")
    assert shown.status_code == 200 and 'data-testid="list-print"' not in shown.text
    assert client.get(f"/lists/{row.id}?format=pdf").status_code == 409
    api = client.get(f"/api/v1/lists/{row.id}/pdf", headers=world.staff("admin"))
    assert api.status_code == 409 and api.json()["error"]["field"] == "list_id"
    assert prints(uow) == []


def test_the_sheet_is_in_the_members_language(uow: UnitOfWork, world: World) -> None:
    row = a_list(uow, world)
    member = world.members[0]
    member.extra = {**(member.extra or {}), "locale": "en"}
    uow.flush()
    view, content = pdf.list_document(
        uow, list_id=row.id, fallback="zh_CN", actor="test", page="test"
    )
    assert content.startswith(b"%PDF")
    assert "a favourite of our shoppers" in view.items[0].reason
    member.extra = {}
    uow.flush()
    view, _content = pdf.list_document(
        uow, list_id=row.id, fallback="zh_CN", actor="test", page="test"
    )
    assert "a favourite of our shoppers" not in view.items[0].reason
    view, _content = pdf.list_document(
        uow, list_id=row.id, lang="en", fallback="zh_CN", actor="test", page="test"
    )
    assert "a favourite of our shoppers" in view.items[0].reason


def test_list_pdf_through_the_api(client: TestClient, uow: UnitOfWork, world: World) -> None:
    row = a_list(uow, world)
    answer = client.get(f"/api/v1/lists/{row.id}/pdf", headers=world.staff("service_desk"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    [event] = prints(uow)
    assert (event.actor, event.member_id, event.page) == (
        "t_service_desk",
        world.members[0].id,
        f"/api/v1/lists/{row.id}/pdf",
    )
    refused = client.get(f"/api/v1/lists/{row.id}/pdf", headers=world.staff("cashier"))
    assert refused.status_code == 403
    missing = client.get("/api/v1/lists/999999/pdf", headers=world.staff("admin"))
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "list_id"
    assert client.get(f"/api/v1/lists/{row.id}/pdf").status_code == 401
    assert len(prints(uow)) == 1


def state(client: TestClient, world: World, deal_id: int) -> Any:
    """Whether the deal is on, as the API tells it."""
    return client.get(f"/api/v1/deals/{deal_id}", headers=world.staff("admin")).json()["active"]


def test_deal_page_retires_the_deal(client: TestClient, uow: UnitOfWork, world: World) -> None:
    deal_id = deal(uow, world, 0)
    uow.commit()
    token = as_role(client, uow, "marketing")
    page = client.get(f"/deals/{deal_id}")
    assert f'action="/deals/{deal_id}/retire"' in page.text
    assert 'data-testid="deal-retired"' not in page.text
    assert client.post(f"/deals/{deal_id}/retire", data={}).status_code == 403  # no CSRF token
    assert state(client, world, deal_id) is True
    done = client.post(
        f"/deals/{deal_id}/retire", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/deals"
    assert state(client, world, deal_id) is False
    uow.session.expire_all()
    event = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "deal_retire")).one()
    assert (event.actor, event.detail) == ("t_marketing", {"code": "D0"})
    page = client.get(f"/deals/{deal_id}")
    assert 'data-testid="deal-retired"' in page.text
    assert f'action="/deals/{deal_id}/retire"' not in page.text
    assert client.post("/deals/999999/retire", data={"csrf_token": token}).status_code == 404
    other = deal(uow, world, 1)
    uow.commit()
    token = as_role(client, uow, "analyst")  # may see deals, not change them
    assert client.post(f"/deals/{other}/retire", data={"csrf_token": token}).status_code == 403
    assert state(client, world, other) is True


def test_saving_a_retired_deal_keeps_it_retired(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    deal_id = deal(uow, world, 0)
    service.deal_retire(uow, deal_id=deal_id)
    uow.commit()
    token = as_role(client, uow, "marketing")
    form = client.get(f"/deals/{deal_id}")
    assert 'name="active_shown"' in form.text
    box = next(line for line in form.text.splitlines() if 'data-testid="deal-active"' in line)
    assert "checked" not in box
    terms = {**FORM, "target_value": world.products[0].sku, "csrf_token": token}

    def save(data: dict[str, str]) -> int:
        return client.post(f"/deals/{deal_id}", data=data, follow_redirects=False).status_code

    # The page's own form: the box is shown, left unticked.
    assert save({**terms, "active_shown": "1", "title": "New"}) == 303
    assert state(client, world, deal_id) is False
    # A post without the box at all (an older form) changes the terms only.
    assert save(terms) == 303
    assert state(client, world, deal_id) is False
    # Ticking the box is how the user brings it back, and unticking retires it again.
    assert save({**terms, "active_shown": "1", "active": "on"}) == 303
    assert state(client, world, deal_id) is True
    box = next(
        line
        for line in client.get(f"/deals/{deal_id}").text.splitlines()
        if 'data-testid="deal-active"' in line
    )
    assert "checked" in box
    assert save({**terms, "active_shown": "1"}) == 303
    assert state(client, world, deal_id) is False
    # A new deal from the form is on unless the box is unticked.
    made = client.post(
        "/deals", data={**terms, "code": "NEW-OFF", "active_shown": "1"}, follow_redirects=False
    )
    assert made.status_code == 303
    listed = client.get("/api/v1/deals", headers=world.staff("admin")).json()
    assert {d["code"]: d["active"] for d in listed}["NEW-OFF"] is False


def test_api_put_and_csv_import_keep_a_retired_deal_retired(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    deal_id = deal(uow, world, 0)
    service.deal_retire(uow, deal_id=deal_id)
    uow.commit()
    terms = {**FORM, "target_value": world.products[0].sku}
    put = client.put(f"/api/v1/deals/{deal_id}", json=terms, headers=world.staff("marketing"))
    assert put.status_code == 200 and put.json()["active"] is False
    csv = (
        "code,title,target,target_value,kind,value,valid_from,valid_to\n"
        f"D0,Deal 0 again,product,{world.products[0].sku},percent,15,"
        "2026-11-01T00:00:00+08:00,2026-12-31T00:00:00+08:00\n"
    )
    report = service.deals_import(uow, text=csv)
    assert report.updated == 1 and report.errors == []
    uow.commit()
    assert state(client, world, deal_id) is False
    on = client.put(
        f"/api/v1/deals/{deal_id}", json={**terms, "active": True}, headers=world.staff("admin")
    )
    assert on.status_code == 200 and on.json()["active"] is True
    kept = client.put(f"/api/v1/deals/{deal_id}", json=terms, headers=world.staff("admin"))
    assert kept.json()["active"] is True
