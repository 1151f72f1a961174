"""Delivering the outbox through a real SMTP server and an HTTP SMS gateway."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from regulars.core.timeutil import utcnow
from regulars.members import service as members_service
from regulars.members.schemas import MemberCreate
from regulars.notify.dispatch import MAX_ATTEMPTS, outbox_dispatch
from regulars.notify.models import OutboxMessage
from regulars.notify.senders import SmsGateway, SmtpMailer
from regulars.notify.service import outbox_enqueue
from regulars.staff.models import AuditEvent
from tests.factories.web import login, make_staff
from tests.notify.conftest import Mailbox


def _mailer(box: Mailbox) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=box.port, sender="Regulars <shop@example.com>")


def _message(uow, message_id: int) -> OutboxMessage:
    uow.session.expire_all()
    found = uow.session.get(OutboxMessage, message_id)
    assert found is not None
    return found


def test_email_is_sent_once_through_smtp(uow, session_factory, mailbox) -> None:
    queued = outbox_enqueue(
        uow,
        channel="email",
        recipient="wang@example.com",
        subject="您的验证码",
        body="您的 Regulars 登录验证码是 123456。",
        member_id=None,
        purpose="otp",
    )
    uow.commit()
    counts = outbox_dispatch(session_factory, transports={"email": _mailer(mailbox)})
    assert counts == {"sent": 1, "retry": 0, "failed": 0, "waiting": 0}
    [mail] = mailbox.received
    assert mail["To"] == "wang@example.com" and mail["Subject"] == "您的验证码"
    assert "123456" in mail.get_content()
    sent = _message(uow, queued.id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None) and sent.sent_at
    again = outbox_dispatch(session_factory, transports={"email": _mailer(mailbox)})
    assert again["sent"] == 0 and len(mailbox.received) == 1  # never twice


def test_a_refused_mailbox_fails_at_once(uow, session_factory, mailbox) -> None:
    mailbox.refuse.add("nobody@example.com")
    queued = outbox_enqueue(
        uow,
        channel="email",
        recipient="nobody@example.com",
        subject="x",
        body="x",
        member_id=None,
        purpose="notice",
    )
    uow.commit()
    counts = outbox_dispatch(session_factory, transports={"email": _mailer(mailbox)})
    assert counts["failed"] == 1
    failed = _message(uow, queued.id)
    assert failed.status == "failed" and "550" in (failed.last_error or "")


def test_sms_retries_after_a_busy_gateway_then_gives_up(uow, session_factory, gateway) -> None:
    ok = outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340001",
        subject=None,
        body="码 654321",
        member_id=None,
        purpose="otp",
    )
    doomed = outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340002",
        subject=None,
        body="x",
        member_id=None,
        purpose="otp",
    )
    uow.commit()
    sms = {"sms": SmsGateway(url=gateway.url, token="secret")}
    gateway.answers = [503, 503]  # both busy on the first round
    first = outbox_dispatch(session_factory, transports=sms)
    assert first["retry"] == 2 and gateway.received == []
    waiting = _message(uow, ok.id)
    assert waiting.status == "pending" and waiting.attempts == 1 and waiting.next_attempt_at
    # Not due yet: nothing is sent.
    assert outbox_dispatch(session_factory, transports=sms)["sent"] == 0
    later = utcnow() + timedelta(minutes=2)
    gateway.answers = [200, 400]  # in claim order: ok first, then doomed (refused for good)
    second = outbox_dispatch(session_factory, transports=sms, now=later)
    assert second["sent"] == 1 and second["failed"] == 1
    assert gateway.received == [{"to": "+8613912340001", "text": "码 654321"}]
    assert set(gateway.tokens) == {"Bearer secret"}
    assert _message(uow, ok.id).status == "sent"
    assert _message(uow, doomed.id).status == "failed"


def test_passing_failures_stop_after_the_last_try(uow, session_factory, gateway) -> None:
    queued = outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340003",
        subject=None,
        body="x",
        member_id=None,
        purpose="otp",
    )
    uow.commit()
    sms = {"sms": SmsGateway(url=gateway.url)}
    gateway.answers = [503] * MAX_ATTEMPTS
    when = utcnow()
    for _ in range(MAX_ATTEMPTS):
        outbox_dispatch(session_factory, transports=sms, now=when)
        when += timedelta(hours=3)
    gone = _message(uow, queued.id)
    assert gone.status == "failed" and gone.attempts == MAX_ATTEMPTS


def test_without_a_transport_messages_wait(uow, session_factory) -> None:
    outbox_enqueue(
        uow,
        channel="sms",
        recipient="+8613912340004",
        subject=None,
        body="x",
        member_id=None,
        purpose="otp",
    )
    uow.commit()
    counts = outbox_dispatch(session_factory, transports={})
    assert counts["waiting"] >= 1 and counts["sent"] == 0


def test_member_signs_in_with_a_code_that_arrived_by_email(
    client, uow, session_factory, mailbox
) -> None:
    members_service.member_register(
        uow, data=MemberCreate(mobile="13912349999", email="li@example.com")
    )
    uow.commit()
    assert client.post("/m/code", data={"identifier": "li@example.com"}).status_code == 200
    outbox_dispatch(session_factory, transports={"email": _mailer(mailbox)})
    [mail] = mailbox.received
    code = re.search(r"\b(\d{6})\b", mail.get_content()).group(1)
    signed = client.post(
        "/m/verify", data={"identifier": "li@example.com", "code": code}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/m/me"


def test_outbox_page_and_api_for_admins(client, uow, world) -> None:
    outbox_enqueue(
        uow,
        channel="email",
        recipient="zhang@example.com",
        subject="s",
        body="secret body",
        member_id=None,
        purpose="otp",
    )
    uow.commit()
    make_staff(uow, "root", "admin", locale="en")
    login(client, "root")
    page = client.get("/outbox")
    assert page.status_code == 200 and "z***@example.com" in page.text
    assert "zhang@example.com" not in page.text and "secret body" not in page.text
    assert 'data-testid="no-transport"' in page.text
    listed = client.get("/api/v1/outbox?status=pending", headers=world.staff("admin"))
    body = listed.json()
    assert listed.status_code == 200 and body["totals"]["email"]["pending"] >= 1
    assert "body" not in body["items"][0] and body["transports"] == []
    sent = client.post("/api/v1/outbox/send", headers=world.staff("admin"))
    assert sent.status_code == 200 and sent.json()["waiting"] >= 1
    assert uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "outbox_send")).first()
    assert client.get("/api/v1/outbox", headers=world.staff("marketing")).status_code == 403
    bad = client.get("/api/v1/outbox?status=lost", headers=world.staff("admin"))
    assert bad.status_code == 422
