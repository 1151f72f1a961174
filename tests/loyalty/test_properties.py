"""Property: random sequences of earn, redeem, return, expire, adjust and merge keep the ledger.

After every step, for every member: the balance is the sum of the ledger lines and never
negative, debt is explicit and never negative, each lot's points minus what was taken from
it is its ``remaining`` (no point spent twice), and no redemption took expired or pending
points (:func:`regulars.loyalty.queries.ledger_check`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from regulars.core.errors import DomainError
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.wiring import wire
from regulars.loyalty import queries, service
from regulars.members import service as member_service
from regulars.members.schemas import MemberCreate
from tests.factories.loyalty import T0, buy, configure, give_back

amount = st.integers(min_value=1, max_value=40_000).map(lambda c: Decimal(c) / 100)
step = st.one_of(
    st.tuples(st.just("earn"), st.integers(0, 1), st.lists(amount, min_size=1, max_size=3)),
    st.tuples(st.just("redeem"), st.integers(0, 1), st.integers(1, 300)),
    st.tuples(
        st.just("return"), st.integers(0, 30), st.integers(1, 3), st.sampled_from(["0.5", "1"])
    ),
    st.tuples(st.just("advance"), st.sampled_from([2, 10, 35])),
    st.tuples(st.just("expire")),
    st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(-300, 300)),
    st.tuples(st.just("merge"), st.integers(0, 1), st.integers(0, 1)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Histories every run must cover, besides the random ones.
@example(
    steps=[("earn", 0, [Decimal("100")]), ("advance", 35), ("redeem", 0, 50), ("expire",)],
    policy="claw_back",
    pending=0,
)
@example(
    steps=[
        ("earn", 0, [Decimal("300")]),
        ("earn", 0, [Decimal("50")]),
        ("advance", 10),
        ("redeem", 0, 300),
        ("return", 0, 1, "1"),
        ("earn", 0, [Decimal("80")]),
    ],
    policy="debt",
    pending=3,
)
@example(
    steps=[
        ("earn", 1, [Decimal("120"), Decimal("30")]),
        ("merge", 0, 1),
        ("advance", 10),
        ("redeem", 1, 100),
        ("return", 0, 1, "0.5"),
        ("return", 0, 1, "1"),
        ("expire",),
    ],
    policy="claw_back",
    pending=3,
)
@given(
    steps=st.lists(step, min_size=8, max_size=30),
    policy=st.sampled_from(["claw_back", "debt"]),
    pending=st.sampled_from([0, 3]),
)
def test_random_histories_keep_the_ledger(
    uow: UnitOfWork, steps: list[tuple[Any, ...]], policy: str, pending: int
) -> None:
    wire()
    example = uow.session.begin_nested()
    try:
        _run(uow, steps, policy, pending)
    finally:
        example.rollback()


def _run(uow: UnitOfWork, steps: list[tuple[Any, ...]], policy: str, pending: int) -> None:
    configure(
        uow,
        debt_policy=policy,
        pending_days=pending,
        expiry_months=1,
        min_redemption=0,
        first_purchase_bonus=25,
    )
    members = [
        member_service.member_register(uow, data=MemberCreate(card_no=f"HYP{i}")).id
        for i in range(2)
    ]
    alias = {m: m for m in members}  # a merged member's receipts go to the survivor
    receipts: list[tuple[int, int, dict[int, Decimal], dict[int, Decimal]]] = []
    now = T0
    source = 0
    for action, *args in steps:
        point = uow.session.begin_nested()  # each step is a transaction of its own
        try:
            if action == "earn":
                source += 1
                member = alias[members[args[0]]]
                buy(uow, member, *args[1], at=now, source_id=source)
                lines = dict(enumerate(args[1], start=1))
                receipts.append((source, members[args[0]], lines, dict.fromkeys(lines, Decimal(0))))
            elif action == "redeem":
                source += 1
                buy(
                    uow, alias[members[args[0]]], "100000", at=now, redeem=args[1], source_id=source
                )
            elif action == "return" and receipts:
                source_id, owner, lines, returned = receipts[args[0] % len(receipts)]
                line_no = min(args[1], len(lines))
                share = max(returned[line_no], Decimal(args[2]))
                if share > returned[line_no]:
                    refund = (lines[line_no] * (share - returned[line_no])).quantize(
                        Decimal("0.01")
                    )
                    returned[line_no] = share
                    give_back(
                        uow, alias[owner], source_id, [(line_no, str(share), str(refund))], at=now
                    )
            elif action == "advance":
                now += timedelta(days=args[0])
            elif action == "expire":
                service.points_expire(uow, today=now.date(), now=now)
            elif action == "adjust" and args[1]:
                service.points_adjust(
                    uow,
                    member_id=alias[members[args[0]]],
                    points=args[1],
                    kind="adjust",
                    reason="test",
                    actor="hypothesis",
                    now=now,
                )
            elif action == "merge":
                keep, gone = alias[members[args[0]]], alias[members[args[1]]]
                if keep != gone:
                    member_service.member_merge(uow, survivor_id=keep, merged_id=gone, actor="h")
                    for m, target in alias.items():
                        if target == gone:
                            alias[m] = keep
            point.commit()
        except DomainError:
            point.rollback()
        uow.flush()
        for m in members:
            assert queries.ledger_check(uow.session, member_id=m) == [], (action, args)
