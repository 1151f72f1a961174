"""The insights snapshot: extract, store, read back, movement, erase and merge rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from regulars.analytics.extract import extract
from regulars.insights import queries
from regulars.insights.models import MemberScore, MemberSignal
from regulars.members import service as members_service
from regulars.members.schemas import ConsentIn
from tests.factories.insights import T0, shop, stored_run


def test_extract_reads_lines_receipts_products_and_consents(uow, world) -> None:
    m0, m1 = world.members[0].id, world.members[1].id
    shop(uow, world, member=0, at=T0, products=(0, 1), quantity="2")
    shop(uow, world, member=None, at=T0 + timedelta(hours=1))
    shop(uow, world, member=1, at=T0 + timedelta(days=40))  # after as_of: not extracted
    members_service.consent_set(
        uow,
        member_id=m1,
        consent=ConsentIn(purpose="analytics", channel="sms", granted=True, source="test"),
    )
    snapshot = extract(uow.session.connection(), as_of=T0 + timedelta(days=1))
    lines = snapshot.lines.sort("product_id")
    assert lines.height == 3
    first = lines.row(0, named=True)
    assert first["member_id"] == m0 and first["quantity"] == 2.0
    product = world.products[0]
    assert Decimal(str(first["amount"])) == product.unit_price * 2
    assert Decimal(str(round(first["cost"], 2))) == product.cost_price * 2
    assert first["at"] == T0
    assert lines.filter(lines["member_id"].is_null()).height == 1
    assert snapshot.receipts.height == 2 and not snapshot.receipts["is_return"].any()
    assert snapshot.products.height == len(world.products)
    consents = dict(snapshot.members.select("member_id", "consent_analytics").iter_rows())
    assert consents[m1] is True and consents[m0] is False


def test_stored_run_reads_back_with_filters_movement_and_profile(uow, world) -> None:
    ids = [m.id for m in world.members]
    first = stored_run(uow, ids, segment="loyal")
    second = stored_run(uow, ids, segment="champions")
    assert queries.run_latest(uow.session).id == second.id
    assert queries.run_previous(uow.session, second).id == first.id
    moves = queries.segment_movement(uow.session, run_id=second.id, previous_id=first.id)
    assert moves == [("loyal", "champions", len(ids))]
    total, rows = queries.members_scored(
        uow.session, run_id=second.id, filters={"tier": "gold"}, order="clv", limit=2
    )
    assert total == len(ids) and len(rows) == 2
    assert rows[0].clv == Decimal("50.00") and rows[0].monetary == Decimal("123.46")
    nan_row = uow.session.scalar(
        select(MemberScore).where(MemberScore.run_id == second.id, MemberScore.member_id == ids[0])
    )
    assert nan_row.clv is None  # NaN from an analysis is stored as unknown
    found = queries.member_insights(uow.session, member_id=ids[0])
    assert found.score.rfm_segment == "champions" and [s.signal for s in found.signals] == ["baby"]
    assert len(found.history) == 2


def test_erase_deletes_scores_and_merge_leaves_them(uow, world) -> None:
    ids = [m.id for m in world.members]
    stored_run(uow, ids)
    members_service.member_merge(uow, survivor_id=ids[1], merged_id=ids[2], actor="test")
    assert (
        uow.session.scalar(
            select(func.count()).select_from(MemberScore).where(MemberScore.member_id == ids[2])
        )
        == 1
    )
    members_service.member_erase(uow, member_id=ids[0], actor="test")
    for table in (MemberScore, MemberSignal):
        left = uow.session.scalar(
            select(func.count()).select_from(table).where(table.member_id == ids[0])
        )
        assert left == 0
