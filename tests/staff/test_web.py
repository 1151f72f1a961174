"""Staff pages: login, sessions, CSRF, language, staff management, audit log."""

from __future__ import annotations

from tests.factories.web import PASSWORD, csrf_of, login, make_staff


def test_pages_need_a_login(client) -> None:
    answer = client.get("/staff", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/staff"


def _session_cookie(answer) -> str:
    header = answer.headers["set-cookie"]
    return header.split("regulars_session=", 1)[1].split(";", 1)[0]


def test_login_sets_a_safe_cookie_and_a_new_session_id(client, uow) -> None:
    make_staff(uow, "alice", "admin")
    client.cookies.set("regulars_session", "planted-by-an-attacker", domain="testserver.local")
    first = client.post(
        "/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False
    )
    assert first.status_code == 303
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    session_one = _session_cookie(first)
    assert session_one != "planted-by-an-attacker"
    client.cookies.clear()
    client.cookies.set("regulars_session", session_one, domain="testserver.local")
    second = client.post(
        "/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False
    )
    assert _session_cookie(second) != session_one


def test_wrong_password_shows_an_error(client, uow) -> None:
    make_staff(uow, "bella", "marketing")
    answer = client.post("/login", data={"username": "bella", "password": "nope"})
    assert answer.status_code == 401
    assert "wrong username or password" in answer.text


def test_login_page_in_chinese(client) -> None:
    answer = client.get("/login?lang=zh_CN")
    assert "登录" in answer.text


def test_forms_refuse_missing_or_wrong_csrf(client, uow) -> None:
    make_staff(uow, "carl", "admin")
    token = login(client, "carl")
    for data in ({}, {"csrf_token": "wrong"}):
        answer = client.post("/lang", data={"lang": "zh_CN", **data})
        assert answer.status_code == 403
    ok = client.post(
        "/lang", data={"lang": "zh_CN", "csrf_token": token, "back": "/"}, follow_redirects=True
    )
    assert ok.status_code == 200
    assert "会员" in ok.text  # the menu is now in Chinese


def test_open_redirect_is_refused(client, uow) -> None:
    make_staff(uow, "dora", "admin")
    answer = client.post(
        "/login",
        data={"username": "dora", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_admin_creates_staff_and_sees_the_audit_log(client, uow) -> None:
    make_staff(uow, "erin", "admin")
    token = login(client, "erin")
    created = client.post(
        "/staff",
        data={
            "csrf_token": token,
            "username": "<script>x</script>",
            "display_name": "x",
            "role": "cashier",
        },
    )
    assert created.status_code == 422  # the username pattern refuses markup
    assert "<script>x</script>" not in created.text
    created = client.post(
        "/staff",
        data={
            "csrf_token": token,
            "username": "frank",
            "display_name": "<b>Frank</b>",
            "role": "cashier",
        },
    )
    assert created.status_code == 201
    assert "&lt;b&gt;Frank&lt;/b&gt;" in created.text and "<b>Frank</b>" not in created.text
    audit = client.get("/audit", params={"action": "staff_create"})
    assert "frank" in audit.text


def test_non_admin_is_refused_staff_pages(client, uow) -> None:
    make_staff(uow, "gina", "marketing")
    login(client, "gina")
    assert client.get("/staff").status_code == 403
    assert client.get("/audit").status_code == 403
    assert client.get("/").status_code == 200


def test_password_change(client, uow) -> None:
    make_staff(uow, "hugo", "cashier")
    login(client, "hugo")
    page = client.get("/account/password")
    token = csrf_of(page.text)
    weak = client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    done = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "another-long-one",
        },
    )
    assert done.status_code == 200
    client.post("/logout", data={"csrf_token": token})
    assert (
        client.post(
            "/login",
            data={"username": "hugo", "password": "another-long-one"},
            follow_redirects=False,
        ).status_code
        == 303
    )


def test_logout_ends_the_session(client, uow) -> None:
    make_staff(uow, "ivy", "analyst")
    token = login(client, "ivy")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_an_admin_cannot_disable_themselves_on_the_page(client, uow) -> None:
    me = make_staff(uow, "hana", "admin")
    other = make_staff(uow, "ivan", "cashier")
    token = login(client, "hana")
    page = client.get("/staff")
    assert f'action="/staff/{other.id}/active"' in page.text
    assert f'action="/staff/{me.id}/active"' not in page.text  # no button for oneself
    refused = client.post(f"/staff/{me.id}/active", data={"active": "false", "csrf_token": token})
    assert refused.status_code == 422
    assert client.get("/staff").status_code == 200  # still logged in, still active
    done = client.post(
        f"/staff/{other.id}/active",
        data={"active": "false", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    trail = client.get("/audit", params={"action": "staff_active"}).text
    assert f'"staff_id": {other.id}' in trail and f'"staff_id": {me.id}' not in trail
