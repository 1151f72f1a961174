"""``regulars points coupons …`` against a fresh database: issue, list, exchange, void."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from typer.testing import CliRunner

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.cli import app
from regulars.loyalty import programme, service
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import ProgrammeUpdate, RewardCreate
from regulars.members import service as members_service
from regulars.members.schemas import MemberCreate
from regulars.staff.models import AuditEvent

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_coupon_commands(cli_db: str) -> None:
    engine = make_engine(cli_db)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            member = members_service.member_register(uow, data=MemberCreate(card_no="CLI00001"))
            programme.programme_update(uow, data=ProgrammeUpdate(pending_days=0))
            service.points_adjust(
                uow, member_id=member.id, points=400, kind="adjust", reason="r", actor="t"
            )
            programme.reward_create(
                uow,
                data=RewardCreate(
                    code="TEN", name="满50减10", kind="amount", points=300, value=Decimal("10")
                ),
            )
            uow.commit()
            member_id = member.id
        refused = invoke("points", "coupons", "issue", str(member_id), "--reason", " ", code=1)
        assert "reason" in refused
        issued = invoke(
            "points", "coupons", "issue", str(member_id), "--value", "6", "--reason", "late"
        )
        shown = re.search(r"issued coupon ([0-9A-Z-]{19})", issued)
        assert shown, issued
        bought = invoke("points", "coupons", "exchange", str(member_id), "TEN")
        assert "issued coupon" in bought
        poor = invoke("points", "coupons", "exchange", str(member_id), "TEN", code=1)
        assert "300" in poor  # what it costs, and what is left (100)
        listed = invoke("points", "coupons", "list", str(member_id))
        assert shown.group(1) in listed and "满50减10" in listed
        assert "TEN" in invoke("points", "coupons", "rewards")
        assert "voided" in invoke(
            "points", "coupons", "void", shown.group(1).lower(), "--reason", "duplicate"
        )
        found = invoke("points", "coupons", "list", "--code", shown.group(1))
        assert "void" in found
        with UnitOfWork(factory) as uow:
            states = sorted(uow.session.scalars(select(MemberCoupon.status)))
            actions = set(uow.session.scalars(select(AuditEvent.action)))
        assert states == ["issued", "void"]
        assert {"coupon_compensate", "coupon_exchange", "coupon_void"} <= actions
    finally:
        engine.dispose()
