"""Jobs that write to members: birthday offers and member-day reminders.

Messages go to the outbox only, and only to members who consent to marketing on that
channel. Each is sent once: a member who already has this year's birthday message (or
today's reminder) in the outbox is skipped, so running a job twice sends nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import extract, select

from regulars.core.crypto import get_cipher
from regulars.core.i18n import _, translate
from regulars.core.labels import label
from regulars.core.timeutil import as_utc
from regulars.core.uow import UnitOfWork
from regulars.loyalty.programme import programme_get
from regulars.members.models import Member
from regulars.members.queries import consenting_member_ids
from regulars.notify.models import OutboxMessage
from regulars.notify.service import outbox_enqueue

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _already(uow: UnitOfWork, purpose: str, since: datetime) -> set[int]:
    """Members who received a message for ``purpose`` since ``since``."""
    rows = uow.session.scalars(
        select(OutboxMessage.member_id).where(
            OutboxMessage.purpose == purpose,
            OutboxMessage.created_at >= since,
            OutboxMessage.member_id.is_not(None),
        )
    )
    return {int(m) for m in rows if m is not None}


def _send(
    uow: UnitOfWork,
    member: Member,
    *,
    channel: str,
    purpose: str,
    subject: str,
    body: str,
    **params: object,
) -> bool:
    """Queue one message in the member's language on a channel they can be reached on."""
    locale = str((member.extra or {}).get("locale") or "zh_CN")
    # A parameter may itself depend on the language (a weekday's name): then it is a function.
    values = {key: value(locale) if callable(value) else value for key, value in params.items()}
    cipher = get_cipher()
    recipient = (
        cipher.decrypt(member.mobile_enc) if channel == "sms" else cipher.decrypt(member.email_enc)
    )
    if not recipient:
        return False
    outbox_enqueue(
        uow,
        channel=channel,
        recipient=recipient,
        subject=translate(subject, locale, **values),
        body=translate(body, locale, **values),
        member_id=member.id,
        purpose=purpose,
    )
    return True


def _reach(
    uow: UnitOfWork,
    candidates: list[Member],
    purpose: str,
    subject: str,
    body: str,
    **params: object,
) -> dict[str, int]:
    """Send to each candidate by SMS if they consent to it, else by email; count what happened."""
    ids = [m.id for m in candidates]
    by_sms = consenting_member_ids(uow.session, purpose="marketing", channel="sms", member_ids=ids)
    by_email = consenting_member_ids(
        uow.session, purpose="marketing", channel="email", member_ids=ids
    )
    counts = {"candidates": len(candidates), "sent": 0, "no_consent": 0}
    for member in candidates:
        sent = False
        if member.id in by_sms:
            sent = _send(
                uow, member, channel="sms", purpose=purpose, subject=subject, body=body, **params
            )
        if not sent and member.id in by_email:
            sent = _send(
                uow, member, channel="email", purpose=purpose, subject=subject, body=body, **params
            )
        counts["sent" if sent else "no_consent"] += 1
    uow.flush()
    return counts


def birthday_offers(uow: UnitOfWork, *, today: date) -> dict[str, int]:
    """Greet members in their birthday month with the programme's birthday bonus, once a year."""
    bonus = programme_get(uow).birthday_bonus
    start_of_year = as_utc(datetime.combine(date(today.year, 1, 1), time()))
    done = _already(uow, "birthday", start_of_year)
    candidates = [
        m
        for m in uow.session.scalars(
            select(Member).where(
                Member.status == "active",
                Member.birthday.is_not(None),
                extract("month", Member.birthday) == today.month,
            )
        )
        if m.id not in done
    ]
    return _reach(
        uow,
        candidates,
        "birthday",
        _("Happy birthday from your supermarket"),
        _("Happy birthday! This month your first purchase earns {points} bonus points."),
        points=bonus,
    )


def member_day_reminders(uow: UnitOfWork, *, today: date) -> dict[str, int]:
    """The day before a member day (a weekday with a points multiplier), remind members once."""
    tomorrow = today + timedelta(days=1)
    day = WEEKDAYS[tomorrow.weekday()]
    multiplier = Decimal(str(programme_get(uow).member_days.get(str(tomorrow.weekday())) or "1"))
    if multiplier <= 1:
        return {"candidates": 0, "sent": 0, "no_consent": 0}
    done = _already(uow, "member_day", as_utc(datetime.combine(today, time())))
    candidates = [
        m
        for m in uow.session.scalars(select(Member).where(Member.status == "active"))
        if m.id not in done
    ]
    return _reach(
        uow,
        candidates,
        "member_day",
        _("Tomorrow is member day"),
        _("Tomorrow ({day}) is member day: your points count ×{multiplier}."),
        day=lambda locale: translate(label(day), locale),
        multiplier=multiplier.normalize(),
    )
