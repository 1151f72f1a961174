"""The admin's account help on the /staff page: reset a password (shown once), unlock, set
the role and stores, in English and Chinese; hostile input never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.staff import audit, rules
from regulars.staff.models import StaffAccount
from tests.factories.web import PASSWORD, csrf_of, login, make_staff
from tests.staff.test_hostile import PAYLOADS, UNESCAPED


def _fresh(uow: UnitOfWork, username: str) -> StaffAccount:
    account = uow.session.scalars(
        select(StaffAccount).where(StaffAccount.username == username)
    ).one()
    uow.session.refresh(account)
    return account


def test_forms_for_others_not_for_oneself(client: TestClient, uow: UnitOfWork) -> None:
    me = make_staff(uow, "hana", "admin")
    other = make_staff(uow, "ivan", "cashier")
    login(client, "hana")
    page = client.get("/staff").text
    assert f'action="/staff/{other.id}/password-reset"' in page
    assert f'action="/staff/{other.id}/role"' in page
    assert f'action="/staff/{me.id}/password-reset"' not in page
    assert f'action="/staff/{me.id}/role"' not in page
    assert "/unlock" not in page  # nobody is locked


def test_reset_shows_the_password_once(client: TestClient, uow: UnitOfWork) -> None:
    make_staff(uow, "hana", "admin")
    other = make_staff(uow, "ivan", "cashier")
    token = login(client, "hana")
    answer = client.post(f"/staff/{other.id}/password-reset", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["cache-control"] == "no-store"
    assert "Password of ivan reset" in answer.text
    one_time = answer.text.split('data-testid="one-time-password">', 1)[1].split("<", 1)[0]
    assert len(one_time) >= 12
    assert one_time not in client.get("/staff").text  # once only
    trail = client.get("/audit", params={"action": "staff_password_reset"}).text
    assert "ivan" in trail and one_time not in trail

    client.cookies.clear()
    changed = client.post(
        "/login", data={"username": "ivan", "password": one_time}, follow_redirects=False
    )
    assert changed.headers["location"] == "/account/password"  # must replace it first


def test_reset_in_chinese_and_refused_for_oneself(client: TestClient, uow: UnitOfWork) -> None:
    me = make_staff(uow, "hana", "admin", locale="zh_CN")
    other = make_staff(uow, "ivan", "cashier")
    token = login(client, "hana")
    page = client.get("/staff").text
    assert "重置密码" in page and "保存角色和门店" in page
    answer = client.post(f"/staff/{other.id}/password-reset", data={"csrf_token": token})
    assert "已重置 ivan 的密码" in answer.text and "一次性密码（仅显示一次）" in answer.text
    refused = client.post(f"/staff/{me.id}/password-reset", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "请在修改密码页面修改自己的密码" in refused.text
    assert 'data-testid="one-time-password"' not in refused.text
    unknown = client.post("/staff/999999/password-reset", data={"csrf_token": token})
    assert unknown.status_code == 404


def test_unlock_a_locked_account(client: TestClient, uow: UnitOfWork) -> None:
    make_staff(uow, "hana", "admin")
    other = make_staff(uow, "ivan", "cashier")
    for _ in range(rules.MAX_FAILED_LOGINS):
        client.post("/login", data={"username": "ivan", "password": "wrong-password"})
    token = login(client, "hana")
    page = client.get("/staff").text
    assert f'action="/staff/{other.id}/unlock"' in page and 'data-testid="locked"' in page
    done = client.post(
        f"/staff/{other.id}/unlock", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/staff"
    assert 'data-testid="locked"' not in client.get("/staff").text
    client.cookies.clear()
    assert login(client, "ivan", PASSWORD)


def test_set_role_and_stores(client: TestClient, uow: UnitOfWork) -> None:
    me = make_staff(uow, "hana", "admin")
    other = make_staff(uow, "ivan", "cashier")
    token = login(client, "hana")
    bad = client.post(
        f"/staff/{other.id}/role",
        data={"csrf_token": token, "role": "store_manager", "store_ids": "one, two"},
    )
    assert bad.status_code == 422 and "store ids are numbers separated by commas" in bad.text
    none = client.post(
        f"/staff/{other.id}/role", data={"csrf_token": token, "role": "store_manager"}
    )
    assert none.status_code == 422 and "a store manager needs at least one store" in none.text
    missing = client.post(
        f"/staff/{other.id}/role",
        data={"csrf_token": token, "role": "cashier", "store_ids": "999999"},
    )
    assert missing.status_code == 422 and "no store with id 999999" in missing.text
    assert _fresh(uow, "ivan").role == "cashier"

    done = client.post(
        f"/staff/{other.id}/role",
        data={"csrf_token": token, "role": "analyst", "store_ids": ""},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert _fresh(uow, "ivan").role == "analyst"
    (event,) = audit.audit_search(uow, action="staff_role")
    assert (event.actor, event.page, event.detail["role"]) == ("hana", "/staff", "analyst")

    myself = client.post(f"/staff/{me.id}/role", data={"csrf_token": token, "role": "cashier"})
    assert myself.status_code == 422
    assert "you cannot take the administrator role from your own account" in myself.text
    assert client.get("/staff").status_code == 200  # still an admin


def test_non_admins_are_refused(client: TestClient, uow: UnitOfWork) -> None:
    make_staff(uow, "gina", "marketing")
    other = make_staff(uow, "ivan", "cashier")
    token = login(client, "gina")
    for path, data in (
        ("password-reset", {}),
        ("unlock", {}),
        ("role", {"role": "admin"}),
    ):
        answer = client.post(f"/staff/{other.id}/{path}", data={"csrf_token": token, **data})
        assert answer.status_code == 403, path
    assert _fresh(uow, "gina").role == "marketing"
    assert audit.audit_search(uow, action="staff_role") == []


def test_hostile_role_form(client: TestClient, uow: UnitOfWork) -> None:
    make_staff(uow, "hana", "admin")
    other = make_staff(uow, "ivan", "cashier")
    token = login(client, "hana")
    for payload in PAYLOADS:
        for field in ("role", "store_ids"):
            data = {"role": "cashier", "store_ids": "", field: payload, "csrf_token": token}
            answer = client.post(f"/staff/{other.id}/role", data=data, follow_redirects=False)
            assert answer.status_code < 500, (field, payload[:30], answer.text[:500])
            for raw in UNESCAPED:
                assert raw not in answer.text
    assert _fresh(uow, "ivan").role == "cashier"
    assert csrf_of(client.get("/staff").text) == token
