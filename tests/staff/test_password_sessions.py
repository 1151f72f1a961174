"""Changing one's own password ends the account's other browser sessions and deletes its
API tokens (whoever used a leaked password is locked out), but keeps the session that
asked, so the staff member stays logged in."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.errors import Unauthorized
from regulars.core.uow import UnitOfWork
from regulars.staff import service, sessions
from regulars.staff.models import StaffSession, StaffToken
from tests.factories.web import PASSWORD, login, make_staff

NEW_PASSWORD = "another-long-password-2"


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=os.environ.get("REGULARS_TEST_RAISE") == "1")


def test_the_page_ends_other_sessions_and_tokens_but_keeps_this_one(
    app: FastAPI, client: TestClient, uow: UnitOfWork
) -> None:
    hana = make_staff(uow, "hana", "cashier")
    bystander = make_staff(uow, "ivan", "cashier")
    token, _row = service.token_issue(uow, account=hana)
    kept_token, _kept = service.token_issue(uow, account=bystander)
    uow.commit()
    csrf = login(client, "hana")
    with _client(app) as intruder, _client(app) as colleague:
        login(intruder, "hana")  # the same account, another browser
        login(colleague, "ivan")
        me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200

        answer = client.post(
            "/account/password",
            data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert answer.status_code == 200, answer.text[:500]
        assert "Your other sessions and API tokens have ended." in answer.text

        assert client.get("/").status_code == 200  # still logged in here
        away = intruder.get("/", follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"].startswith("/login")
        gone = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401
        # Another account keeps its session and token.
        assert colleague.get("/").status_code == 200
        other = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {kept_token}"})
        assert other.status_code == 200
    left = uow.session.scalars(select(StaffSession).where(StaffSession.staff_id == hana.id)).all()
    assert len(left) == 1
    assert not uow.session.scalars(select(StaffToken).where(StaffToken.staff_id == hana.id)).all()


def test_a_refused_change_ends_nothing(client: TestClient, uow: UnitOfWork) -> None:
    hana = make_staff(uow, "hana", "cashier")
    token, _row = service.token_issue(uow, account=hana)
    uow.commit()
    csrf = login(client, "hana")
    answer = client.post(
        "/account/password",
        data={"csrf_token": csrf, "current_password": "wrong", "new_password": NEW_PASSWORD},
    )
    assert answer.status_code == 422
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


def test_the_service_keeps_only_the_session_given(uow: UnitOfWork) -> None:
    hana = make_staff(uow, "hana", "cashier")
    mine, row = sessions.session_create(uow, account=hana)
    theirs, _other = sessions.session_create(uow, account=hana)
    token, _token_row = service.token_issue(uow, account=hana)
    service.staff_change_password(
        uow, account=hana, current=PASSWORD, new=NEW_PASSWORD, keep_session=row
    )
    assert sessions.session_find(uow, session_id=mine) is not None
    assert sessions.session_find(uow, session_id=theirs) is None
    with pytest.raises(Unauthorized):
        service.token_verify(uow, token=token)
    # Without a session to keep (no page asked), every session ends.
    service.staff_change_password(uow, account=hana, current=NEW_PASSWORD, new=PASSWORD)
    assert sessions.session_find(uow, session_id=mine) is None
