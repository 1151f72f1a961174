"""Jobs that write to members: birthday offers (with a birthday coupon) and member-day reminders.

Messages go to the outbox only, and only to members who consent to marketing on that
channel. Each is sent once: a member who already has this year's birthday message (or
today's reminder) in the outbox is skipped, so running a job twice sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import extract, select

from regulars.core.crypto import get_cipher
from regulars.core.i18n import _, translate
from regulars.core.labels import label
from regulars.core.templating import local_time
from regulars.core.timeutil import as_utc
from regulars.core.uow import UnitOfWork
from regulars.loyalty import rules
from regulars.loyalty.coupons import coupon_birthday
from regulars.loyalty.models import MemberCoupon
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


def _recipient(member: Member, channel: str) -> str | None:
    """The member's address on ``channel`` (decrypted), if they gave one."""
    cipher = get_cipher()
    return (
        cipher.decrypt(member.mobile_enc) if channel == "sms" else cipher.decrypt(member.email_enc)
    )


def _send(
    uow: UnitOfWork,
    member: Member,
    *,
    channel: str,
    recipient: str,
    purpose: str,
    subject: str,
    body: str,
    **params: object,
) -> None:
    """Queue one message in the member's language."""
    locale = str((member.extra or {}).get("locale") or "zh_CN")
    # A parameter may itself depend on the language (a weekday's name): then it is a function.
    values = {key: value(locale) if callable(value) else value for key, value in params.items()}
    outbox_enqueue(
        uow,
        channel=channel,
        recipient=recipient,
        subject=translate(subject, locale, **values),
        body=translate(body, locale, **values),
        member_id=member.id,
        purpose=purpose,
    )


def _reach(
    uow: UnitOfWork,
    candidates: list[Member],
    purpose: str,
    subject: str,
    body: str,
    *,
    personal: Callable[[Member], tuple[str, dict[str, object]]] | None = None,
    **params: object,
) -> dict[str, int]:
    """Send to each candidate by SMS if they consent to it, else by email; count what happened.

    ``personal`` is called only for a member who will get the message (after the consent
    check), so what it gives them (a birthday coupon) goes to consenting members only; it
    returns the body to send and the member's own parameters.
    """
    ids = [m.id for m in candidates]
    by_sms = consenting_member_ids(uow.session, purpose="marketing", channel="sms", member_ids=ids)
    by_email = consenting_member_ids(
        uow.session, purpose="marketing", channel="email", member_ids=ids
    )
    counts = {"candidates": len(candidates), "sent": 0, "no_consent": 0}
    for member in candidates:
        reachable = [
            (channel, address)
            for channel, consents in (("sms", by_sms), ("email", by_email))
            if member.id in consents and (address := _recipient(member, channel))
        ]
        if not reachable:
            counts["no_consent"] += 1
            continue
        channel, address = reachable[0]
        text, own = personal(member) if personal is not None else (body, {})
        _send(
            uow,
            member,
            channel=channel,
            recipient=address,
            purpose=purpose,
            subject=subject,
            body=text,
            **params,
            **own,
        )
        counts["sent"] += 1
    uow.flush()
    return counts


def _coupon_terms(coupon: MemberCoupon) -> Callable[[str], str]:
    """The coupon's terms in a member's language."""
    terms = rules.coupon_terms(
        coupon.kind, coupon.value, coupon.max_discount, coupon.min_spend, coupon.title
    )
    return lambda locale: ", ".join(translate(m, locale, **p) for m, p in terms)


GREETING = _("Happy birthday! This month your first purchase earns {points} bonus points.")
GREETING_COUPON = _(
    "Happy birthday! Your birthday coupon {code} gives {terms} until {until}: show it at the "
    "till, or find it on your member page."
)
GREETING_COUPON_BONUS = _(
    "Happy birthday! Your birthday coupon {code} gives {terms} until {until}: show it at the "
    "till, or find it on your member page. Your first purchase this month also earns {points} "
    "bonus points."
)


def birthday_offers(uow: UnitOfWork, *, today: date) -> dict[str, int]:
    """Greet members in their birthday month once a year, with a birthday coupon.

    The coupon (the programme's birthday coupon terms, valid through the birthday month,
    one per member and year) is issued only to members who consent to marketing on a
    channel they can be reached on, and the message carries its code; a programme that
    issues no birthday coupon (value 0) sends the greeting with the bonus points alone.
    """
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
    issued = {"coupons": 0}

    def with_coupon(member: Member) -> tuple[str, dict[str, object]]:
        coupon = coupon_birthday(uow, member_id=member.id, today=today)
        if coupon is None:
            return GREETING, {}
        issued["coupons"] += 1
        own: dict[str, object] = {
            "code": rules.coupon_code_display(coupon.code),
            "terms": _coupon_terms(coupon),
            "until": local_time(coupon.valid_to - timedelta(seconds=1), "%Y-%m-%d"),
        }
        return (GREETING_COUPON_BONUS if bonus else GREETING_COUPON), own

    counts = _reach(
        uow,
        candidates,
        "birthday",
        _("Happy birthday from your supermarket"),
        GREETING,
        personal=with_coupon,
        points=bonus,
    )
    return {**counts, **issued}


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
