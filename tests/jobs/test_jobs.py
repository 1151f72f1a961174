"""Scheduled jobs: once per day, due dates, consent honoured by outreach, CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from regulars.jobs.registry import job_run, jobs_due
from regulars.loyalty.coupons import coupon_birthday
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.programme import programme_update
from regulars.loyalty.rules import coupon_code_display
from regulars.loyalty.schemas import ProgrammeUpdate
from regulars.members import service as members_service
from regulars.members.schemas import ConsentIn, MemberCreate
from regulars.notify.models import OutboxMessage


def _outbox(uow, purpose: str) -> int:
    return int(
        uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.purpose == purpose)
        )
        or 0
    )


def test_birthday_offers_only_to_consenting_members_once_a_year(uow) -> None:
    yes = members_service.member_register(
        uow,
        data=MemberCreate(
            mobile="13912349001",
            birthday=date(1990, 5, 17),
            consents=[ConsentIn(purpose="marketing", channel="sms", granted=True)],
        ),
    )
    members_service.member_register(
        uow, data=MemberCreate(mobile="13912349002", birthday=date(1985, 5, 3))
    )
    members_service.member_register(
        uow,
        data=MemberCreate(
            mobile="13912349003",
            birthday=date(1980, 6, 1),
            consents=[ConsentIn(purpose="marketing", channel="sms", granted=True)],
        ),
    )
    uow.commit()
    run = job_run(uow, name="birthday-offers", day=date(2026, 5, 2))
    assert run is not None
    assert run.result == {"candidates": 2, "sent": 1, "no_consent": 1, "coupons": 1}
    assert _outbox(uow, "birthday") == 1
    message = uow.session.scalars(
        select(OutboxMessage).where(OutboxMessage.purpose == "birthday")
    ).one()
    assert message.member_id == yes.id and message.channel == "sms"
    # The coupon went to the consenting member only, and the message carries its code.
    coupon = uow.session.scalars(select(MemberCoupon)).one()
    assert (coupon.member_id, coupon.source, coupon.period) == (yes.id, "birthday", "2026")
    assert (coupon.value, coupon.min_spend) == (Decimal("10.00"), Decimal("50.00"))
    assert coupon_code_display(coupon.code) in message.body and "¥10.00" in message.body
    # Valid through May in the chain's time zone (Asia/Shanghai, UTC+8).
    assert coupon.valid_from == datetime(2026, 4, 30, 16, tzinfo=UTC)
    assert coupon.valid_to == datetime(2026, 5, 31, 16, tzinfo=UTC)
    assert job_run(uow, name="birthday-offers", day=date(2026, 5, 2)) is None  # once a day
    job_run(uow, name="birthday-offers", day=date(2026, 5, 20), force=True)
    assert _outbox(uow, "birthday") == 1  # once a year per member
    assert uow.session.scalar(select(func.count()).select_from(MemberCoupon)) == 1
    # Even asked directly, the year's coupon is the one already issued.
    again = coupon_birthday(uow, member_id=yes.id, today=date(2026, 5, 25))
    assert again is not None and again.id == coupon.id


def test_member_day_reminder_the_day_before(uow) -> None:
    members_service.member_register(
        uow,
        data=MemberCreate(
            mobile="13912349004",
            consents=[ConsentIn(purpose="marketing", channel="sms", granted=True)],
        ),
    )
    programme_update(uow, data=ProgrammeUpdate(member_days={"wed": "2"}))
    uow.commit()
    monday = date(2026, 11, 23)
    assert (
        job_run(uow, name="member-day-reminders", day=monday).result["sent"] == 0
    )  # tomorrow is Tuesday
    tuesday = date(2026, 11, 24)
    assert job_run(uow, name="member-day-reminders", day=tuesday).result["sent"] == 1
    body = uow.session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.purpose == "member_day")
    ).one()
    assert "×2" in body and "星期三" in body


def test_tier_review_only_at_the_review_date(uow) -> None:
    assert job_run(uow, name="tiers-review", day=date(2026, 11, 23)) is None
    assert job_run(uow, name="tiers-review", day=date(2026, 10, 1)) is not None


def test_jobs_due_by_local_hour() -> None:
    early = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 00:30 in Shanghai, next day
    assert jobs_due(early) == []
    late = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    assert {name for name, _day in jobs_due(late)} >= {
        "points-expire",
        "birthday-offers",
        "member-day-reminders",
    }
