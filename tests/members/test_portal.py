"""The member page: one-time-code sign-in, own profile and consents, sessions, CSRF, QR codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from regulars.core.crypto import FieldCipher, get_cipher
from regulars.core.errors import Conflict
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.members import portal, queries, service
from regulars.members.models import ConsentEvent, Member, MemberOtp, MemberSession
from regulars.members.schemas import ConsentIn, MemberCreate, MemberUpdate
from regulars.notify.models import OutboxMessage
from regulars.notify.queries import outbox_recipient
from regulars.sales import service as sales_service
from regulars.sales.schemas import ReceiptIn
from tests.factories.web import csrf_of, login, make_staff, member_sign_in
from tests.factories.world import build_world, receipt_payload

MOBILE = "13912340001"


@pytest.fixture
def member(uow: UnitOfWork) -> Member:
    made = service.member_register(
        uow,
        data=MemberCreate(
            mobile=MOBILE,
            name="Wang Fang",
            community="Jing'an",
            consents=[ConsentIn(purpose="marketing", channel="sms", granted=True)],
        ),
    )
    uow.commit()
    return made


@pytest.fixture
def other(uow: UnitOfWork) -> Member:
    made = service.member_register(
        uow, data=MemberCreate(mobile="13912340002", name="Li Lei", email="li.lei@example.com")
    )
    uow.commit()
    return made


def _outbox(uow: UnitOfWork, member_id: int | None = None) -> list[OutboxMessage]:
    uow.session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if member_id is not None:
        query = query.where(OutboxMessage.member_id == member_id)
    return list(uow.session.scalars(query))


def _last_code(uow: UnitOfWork, member_id: int) -> str:
    body = _outbox(uow, member_id)[-1].body
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def _request_code(client: TestClient, identifier: str) -> None:
    answer = client.post("/m/code", data={"identifier": identifier})
    assert answer.status_code == 200, answer.text[:500]


def _otp(uow: UnitOfWork, member_id: int) -> MemberOtp:
    uow.session.expire_all()
    return uow.session.scalars(
        select(MemberOtp).where(MemberOtp.member_id == member_id).order_by(MemberOtp.id.desc())
    ).first()


def test_sign_in_see_correct_withdraw_and_sign_out(client, uow, member) -> None:
    start = client.get("/m")
    assert start.status_code == 200 and 'action="/m/code"' in start.text
    sent = client.post("/m/code", data={"identifier": MOBILE})
    assert sent.status_code == 200 and 'action="/m/verify"' in sent.text
    assert f'name="identifier" value="{MOBILE}"' in sent.text

    [message] = _outbox(uow, member.id)
    assert (message.channel, message.purpose, message.status) == ("sms", "otp", "pending")
    assert (
        message.recipient_masked == "139****0001" and MOBILE.encode() not in message.recipient_enc
    )
    assert outbox_recipient(message) == "+86" + MOBILE
    assert "验证码" in message.body  # no language known yet: Chinese
    code = _last_code(uow, member.id)
    assert code not in _otp(uow, member.id).code_hash

    signed = client.post(
        "/m/verify", data={"identifier": MOBILE, "code": code}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/m/me"
    cookie = signed.headers["set-cookie"].lower()
    assert "regulars_member=" in cookie and "httponly" in cookie and "samesite=strict" in cookie

    page = client.get("/m/me")
    assert page.status_code == 200
    assert "Wang Fang" in page.text and "139****0001" in page.text and MOBILE not in page.text
    assert page.headers["cache-control"] == "no-store"
    csrf = csrf_of(page.text)

    saved = client.post(
        "/m/me/profile",
        data={"csrf_token": csrf, "name": "Wang Fang", "community": "Xuhui", "pets": "cat, 狗"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    uow.session.expire_all()
    fresh = queries.member_get(uow.session, member_id=member.id)
    assert fresh.community == "Xuhui" and fresh.pets == ["cat", "狗"]
    assert "Xuhui" in client.get("/m/me").text

    withdrawn = client.post(
        "/m/me/consents",
        data={"csrf_token": csrf, "purpose": "marketing", "channel": "sms", "granted": "false"},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 303
    event = uow.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member.id)
        .order_by(ConsentEvent.id.desc())
    ).first()
    assert (event.purpose, event.channel, event.granted, event.source) == (
        "marketing",
        "sms",
        False,
        "member page",
    )
    assert not queries.has_consent(
        uow.session, member_id=member.id, purpose="marketing", channel="sms"
    )

    out = client.post("/m/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/m"
    assert client.get("/m/me", follow_redirects=False).headers["location"] == "/m"
    count = (
        select(func.count()).select_from(MemberSession).where(MemberSession.member_id == member.id)
    )
    assert uow.session.scalar(count) == 0


def test_a_code_works_once(client, uow, member) -> None:
    member_sign_in(client, uow, MOBILE, member.id)
    code = _last_code(uow, member.id)
    again = client.post("/m/verify", data={"identifier": MOBILE, "code": code})
    assert again.status_code == 401


def test_five_wrong_guesses_lock_the_code(client, uow, member) -> None:
    _request_code(client, MOBILE)
    code = _last_code(uow, member.id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(portal.OTP_MAX_ATTEMPTS):
        answer = client.post("/m/verify", data={"identifier": MOBILE, "code": wrong})
        assert answer.status_code == 401
        assert 'data-testid="error"' in answer.text
    assert _otp(uow, member.id).attempts == portal.OTP_MAX_ATTEMPTS
    locked = client.post("/m/verify", data={"identifier": MOBILE, "code": code})
    assert locked.status_code == 401
    assert client.get("/m/me", follow_redirects=False).status_code == 303


def test_a_wrong_guess_does_not_spoil_the_right_code(client, uow, member) -> None:
    _request_code(client, MOBILE)
    code = _last_code(uow, member.id)
    wrong = "000000" if code != "000000" else "111111"
    assert client.post("/m/verify", data={"identifier": MOBILE, "code": wrong}).status_code == 401
    answer = client.post(
        "/m/verify", data={"identifier": MOBILE, "code": code}, follow_redirects=False
    )
    assert answer.status_code == 303


def test_an_expired_code_is_refused(client, uow, member) -> None:
    _request_code(client, MOBILE)
    code = _last_code(uow, member.id)
    uow.session.execute(
        update(MemberOtp)
        .where(MemberOtp.member_id == member.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    uow.commit()
    answer = client.post("/m/verify", data={"identifier": MOBILE, "code": code})
    assert answer.status_code == 401


def test_only_the_newest_code_counts(client, uow, member) -> None:
    _request_code(client, MOBILE)
    first = _last_code(uow, member.id)
    _request_code(client, MOBILE)
    second = _last_code(uow, member.id)
    if first != second:
        old = client.post("/m/verify", data={"identifier": MOBILE, "code": first})
        assert old.status_code == 401
    ok = client.post(
        "/m/verify", data={"identifier": MOBILE, "code": second}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_unknown_mobile_looks_the_same_and_sends_nothing(client, uow, member) -> None:
    unknown = "13987654321"
    known = client.post("/m/code", data={"identifier": MOBILE})
    before = len(_outbox(uow))
    stranger = client.post("/m/code", data={"identifier": unknown})
    assert stranger.status_code == known.status_code == 200
    assert stranger.text.replace(unknown, "X") == known.text.replace(MOBILE, "X")
    assert len(_outbox(uow)) == before
    refused = client.post("/m/verify", data={"identifier": unknown, "code": "123456"})
    assert refused.status_code == 401


def test_at_most_five_codes_an_hour(client, uow, member) -> None:
    for _ in range(portal.OTP_PER_HOUR + 2):
        _request_code(client, MOBILE)
    assert len(_outbox(uow, member.id)) == portal.OTP_PER_HOUR


def test_a_malformed_identifier_is_refused(client, uow, member) -> None:
    answer = client.post("/m/code", data={"identifier": "12345"})
    assert answer.status_code == 422 and 'data-testid="error"' in answer.text
    assert _outbox(uow) == []


def test_forms_need_the_sessions_csrf_token(client, uow, member) -> None:
    member_sign_in(client, uow, MOBILE, member.id)
    for path, data in (
        ("/m/me/profile", {"name": "Mallory"}),
        ("/m/me/consents", {"purpose": "marketing", "channel": "sms", "granted": "false"}),
        ("/m/signout", {}),
    ):
        assert client.post(path, data=data).status_code == 403
        assert client.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403
    uow.session.expire_all()
    assert queries.member_get(uow.session, member_id=member.id).name == "Wang Fang"
    assert client.get("/m/me").status_code == 200  # still signed in


def test_forms_need_a_session(client, member) -> None:
    answer = client.post("/m/me/profile", data={"csrf_token": "x", "name": "Mallory"})
    assert answer.status_code == 401


def test_each_member_sees_only_their_own_page(app: FastAPI, client, uow, member, other) -> None:
    csrf_a = member_sign_in(client, uow, MOBILE, member.id)
    with TestClient(app) as client_b:
        csrf_b = member_sign_in(client_b, uow, "13912340002", other.id)
        page_b = client_b.get("/m/me").text
        assert "Li Lei" in page_b and "Wang Fang" not in page_b
        # A's token does not work with B's session.
        forged = client_b.post("/m/me/profile", data={"csrf_token": csrf_a, "name": "Hacked"})
        assert forged.status_code == 403
        assert csrf_a != csrf_b
    page_a = client.get("/m/me").text
    assert "Wang Fang" in page_a and "Li Lei" not in page_a
    uow.session.expire_all()
    assert queries.member_get(uow.session, member_id=other.id).name == "Li Lei"


def test_every_sign_in_starts_a_new_session(client, uow, member) -> None:
    member_sign_in(client, uow, MOBILE, member.id)
    first = client.cookies.get("regulars_member")
    member_sign_in(client, uow, MOBILE, member.id)
    second = client.cookies.get("regulars_member")
    assert first and second and first != second
    assert portal.member_session_find(uow, session_id=first) is None
    assert portal.member_session_find(uow, session_id=second) is not None


def test_an_expired_session_is_signed_out(client, uow, member) -> None:
    member_sign_in(client, uow, MOBILE, member.id)
    uow.session.execute(
        update(MemberSession)
        .where(MemberSession.member_id == member.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    uow.commit()
    assert client.get("/m/me", follow_redirects=False).status_code == 303


def test_sign_in_by_email(client, uow, other) -> None:
    _request_code(client, "  Li.Lei@Example.COM ")
    [message] = _outbox(uow, other.id)
    assert message.channel == "email" and message.subject
    assert message.recipient_masked == "l***@example.com"
    assert outbox_recipient(message) == "li.lei@example.com"
    code = _last_code(uow, other.id)
    answer = client.post(
        "/m/verify",
        data={"identifier": "li.lei@example.com", "code": code},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = client.get("/m/me").text
    assert "l***@example.com" in page and "li.lei@example.com" not in page


def test_sign_in_by_member_code_sends_to_the_mobile(client, uow, member) -> None:
    code_of_member = queries.member_summary(member).member_code
    form = client.get("/m", params={"member": code_of_member})
    assert f'value="{code_of_member}"' in form.text
    _request_code(client, code_of_member)
    [message] = _outbox(uow, member.id)
    assert message.channel == "sms" and outbox_recipient(message) == "+86" + MOBILE


def test_the_member_sets_an_email_that_must_be_free(client, uow, member, other) -> None:
    csrf = member_sign_in(client, uow, MOBILE, member.id)
    taken = client.post(
        "/m/me/profile",
        data={"csrf_token": csrf, "name": "Wang Fang", "email": "LI.LEI@example.com"},
    )
    assert taken.status_code == 422 and "email" in taken.text
    bad = client.post("/m/me/profile", data={"csrf_token": csrf, "email": "not-an-address"})
    assert bad.status_code == 422
    ok = client.post(
        "/m/me/profile",
        data={"csrf_token": csrf, "name": "Wang Fang", "email": "wang@example.com"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and "email_sent=true" in ok.headers["location"]
    uow.session.expire_all()
    unconfirmed = queries.member_get(uow.session, member_id=member.id)
    assert unconfirmed.email_masked is None  # nothing changes before the code comes back
    [sent] = [m for m in _outbox(uow, member.id) if m.channel == "email"]
    assert outbox_recipient(sent) == "wang@example.com" and sent.subject
    page = client.get("/m/me")
    assert 'data-testid="email-pending"' in page.text and "w***@example.com" in page.text
    # The sign-in code is not the email code, and a wrong code is refused.
    wrong = client.post("/m/me/email", data={"csrf_token": csrf, "code": "000000"})
    assert wrong.status_code == 401
    code = re.search(r"\b(\d{6})\b", sent.body).group(1)
    confirmed = client.post(
        "/m/me/email", data={"csrf_token": csrf, "code": code}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    uow.session.expire_all()
    fresh = queries.member_get(uow.session, member_id=member.id)
    assert (
        fresh.email_masked == "w***@example.com"
        and queries.member_email(fresh) == "wang@example.com"
    )
    again = client.post("/m/me/email", data={"csrf_token": csrf, "code": code})
    assert again.status_code == 401  # a code works once
    assert 'data-testid="email-pending"' not in client.get("/m/me").text


def test_changing_an_email_tells_the_old_address_and_a_code_cannotmember_sign_in(
    client, uow, other
) -> None:
    csrf = member_sign_in(client, uow, "13912340002", other.id)
    client.post("/m/me/profile", data={"csrf_token": csrf, "email": "new.li@example.com"})
    messages = [m for m in _outbox(uow, other.id) if m.channel == "email"]
    recipients = {outbox_recipient(m): m for m in messages}
    assert set(recipients) == {"new.li@example.com", "li.lei@example.com"}
    notice = recipients["li.lei@example.com"]
    assert notice.purpose == "notice" and "n***@example.com" in notice.body
    code = re.search(r"\b(\d{6})\b", recipients["new.li@example.com"].body).group(1)
    # The email-change code is no sign-in code, for the old address or the new one.
    for identifier in ("13912340002", "li.lei@example.com"):
        refused = client.post("/m/verify", data={"identifier": identifier, "code": code})
        assert refused.status_code == 401
    # The old address still signs in until the new one is confirmed.
    assert queries.member_email(queries.member_get(uow.session, member_id=other.id)) == (
        "li.lei@example.com"
    )


def test_codes_follow_the_members_language(client, uow, member) -> None:
    assert "Sign in to your member page" in client.get("/m", params={"lang": "en"}).text
    member_sign_in(client, uow, MOBILE, member.id)  # the language cookie says English
    _request_code(client, MOBILE)
    assert "sign-in code" in _outbox(uow, member.id)[-1].body


def test_receipts_panel_shows_on_the_member_page(client, uow, member) -> None:
    world = build_world(uow, members=0)
    payload = receipt_payload(world, "P-1", member=False)
    payload["member"] = {"mobile": MOBILE}
    sales_service.receipt_record(
        uow, store=world.store, terminal=world.terminal, data=ReceiptIn.model_validate(payload)
    )
    uow.commit()
    member_sign_in(client, uow, MOBILE, member.id)
    page = client.get("/m/me").text
    assert 'data-testid="panel-receipts"' in page
    assert "P-1" in page
    assert 'href="/receipts/' not in page  # staff pages are not linked from the member's own


def test_qr_codes(client, uow, member) -> None:
    poster = client.get("/m/qr.svg")
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/svg+xml"
    assert poster.text.lstrip().startswith("<svg")
    staff_only = client.get(f"/members/{member.id}/qr.svg", follow_redirects=False)
    assert staff_only.status_code == 303
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    card = client.get(f"/members/{member.id}/qr.svg")
    assert card.status_code == 200 and "<svg" in card.text
    assert client.get("/members/999999/qr.svg").status_code == 404


def test_email_in_register_export_erase_and_reencrypt(uow, member, other) -> None:
    with pytest.raises(Conflict) as refused:
        service.member_update(
            uow, member_id=member.id, data=MemberUpdate(email="LI.LEI@example.com")
        )
    assert refused.value.field == "email"
    uow.rollback()
    exported = queries.member_export(uow.session, member_id=other.id)
    assert exported["profile"]["email"] == "li.lei@example.com"
    assert exported["profile"]["email_masked"] == "l***@example.com"

    old = get_cipher()
    new = FieldCipher(b"n" * 32)
    service.member_reencrypt(uow, old=old, new=new)
    uow.session.expire_all()
    moved = queries.member_get(uow.session, member_id=other.id)
    assert new.decrypt(moved.email_enc) == "li.lei@example.com"
    assert moved.email_index == new.blind_index("li.lei@example.com")
    uow.rollback()

    session_id, _row = portal.member_session_create(uow, member_id=other.id)
    portal.otp_request(uow, identifier="li.lei@example.com")
    service.member_erase(uow, member_id=other.id, actor="test")
    erased = queries.member_get(uow.session, member_id=other.id)
    assert (erased.email_enc, erased.email_index, erased.email_masked) == (None, None, None)
    assert portal.member_session_find(uow, session_id=session_id) is None
    assert (
        uow.session.scalar(
            select(func.count()).select_from(MemberOtp).where(MemberOtp.member_id == other.id)
        )
        == 0
    )
    [message] = _outbox(uow)
    assert message.member_id is None  # the outbox row is unlinked from the erased member


def test_merge_passes_the_email_to_a_survivor_without_one(uow, member, other) -> None:
    record = service.member_merge(uow, survivor_id=member.id, merged_id=other.id, actor="test")
    assert "email_index" in record.details["filled"]
    uow.session.expire_all()
    survivor = queries.member_get(uow.session, member_id=member.id)
    assert queries.member_email(survivor) == "li.lei@example.com"
    assert queries.member_by_email(uow.session, email="li.lei@example.com").id == member.id
