"""Service tests of the members domain against the real database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from regulars.core.crypto import get_cipher
from regulars.core.errors import Conflict, InvalidInput, NotFound
from regulars.members import queries, rules, service
from regulars.members.models import ConsentEvent, Member
from regulars.members.schemas import ConsentIn, MemberCreate, MemberUpdate
from regulars.sales.models import Receipt
from tests.factories.world import build_world, receipt_payload


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("+8613812345678", "+8613812345678"),
        ("+447911123456", "+447911123456"),
    ],
)
def test_mobile_numbers_are_normalised(raw: str, expected: str) -> None:
    assert rules.normalise_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12345678901", "1381234567", "138123456789", "+86123", "abc", "+8602112345678"]
)
def test_bad_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.normalise_mobile(raw)
    assert caught.value.field == "mobile"


def test_mask_and_member_code_round_trip() -> None:
    assert rules.mask_mobile("+8613812345678") == "138****5678"
    code = rules.member_code(42)
    assert len(code) == 13 and code.startswith("29")
    assert rules.parse_member_code(code) == 42
    with pytest.raises(InvalidInput):
        rules.parse_member_code(code[:-1] + str((int(code[-1]) + 1) % 10))


def test_register_encrypts_mobile_and_address(uow) -> None:
    member = service.member_register(
        uow,
        data=MemberCreate(
            mobile="13912340001",
            name="李四",
            address="上海市浦东新区 1 号",
            community="阳光小区",
            children_birth_years=[2019],
            pets=["cat"],
            household_size=3,
            consents=[ConsentIn(purpose="marketing", channel="sms", granted=True, source="till")],
        ),
    )
    raw = uow.session.execute(
        select(Member.mobile_enc, Member.address_enc, Member.mobile_index).where(
            Member.id == member.id
        )
    ).one()
    assert b"13912340001" not in raw.mobile_enc
    assert "浦东".encode() not in raw.address_enc
    assert get_cipher().decrypt(raw.mobile_enc) == "+8613912340001"
    assert raw.mobile_index == get_cipher().blind_index("+8613912340001")
    read = queries.member_read(uow.session, member)
    assert read.address == "上海市浦东新区 1 号"
    assert read.mobile_masked == "139****0001"
    assert [(c.purpose, c.channel, c.granted) for c in read.consents] == [
        ("marketing", "sms", True)
    ]


def test_register_needs_mobile_or_card() -> None:
    with pytest.raises(ValidationError):
        MemberCreate(name="nobody")


def test_duplicate_mobile_and_card_conflict(uow) -> None:
    service.member_register(uow, data=MemberCreate(mobile="13912340002", card_no="CARD0002"))
    with pytest.raises(Conflict) as by_mobile:
        service.member_register(uow, data=MemberCreate(mobile="+86 139 1234 0002"))
    assert by_mobile.value.field == "mobile"
    with pytest.raises(Conflict) as by_card:
        service.member_register(uow, data=MemberCreate(card_no="CARD0002"))
    assert by_card.value.field == "card_no"


def test_find_by_mobile_card_and_name(uow) -> None:
    a = service.member_register(uow, data=MemberCreate(mobile="13912340003", name="王小明"))
    b = service.member_register(uow, data=MemberCreate(card_no="CARD0004", name="Wang Ming"))
    assert [m.id for m in queries.member_search(uow.session, text="139 1234 0003")] == [a.id]
    assert [m.id for m in queries.member_search(uow.session, text="CARD0004")] == [b.id]
    assert [m.id for m in queries.member_search(uow.session, text="小明")] == [a.id]
    assert [m.id for m in queries.member_search(uow.session, text="wang")] == [b.id]
    assert queries.member_identify(uow.session, mobile="13912340003").id == a.id
    assert queries.member_identify(uow.session, member_code=rules.member_code(b.id)).id == b.id
    with pytest.raises(NotFound):
        queries.member_identify(uow.session, card_no="NOPE0000")


def test_update_changes_only_sent_fields(uow) -> None:
    member = service.member_register(
        uow, data=MemberCreate(card_no="CARD0005", name="Old", occupation="teacher")
    )
    service.member_update(
        uow, member_id=member.id, data=MemberUpdate(name="New", hobbies=["cooking"])
    )
    assert (member.name, member.occupation, member.hobbies) == ("New", "teacher", ["cooking"])


def test_consent_withdrawal_keeps_history(uow) -> None:
    member = service.member_register(uow, data=MemberCreate(card_no="CARD0006"))
    service.consent_set(
        uow,
        member_id=member.id,
        consent=ConsentIn(purpose="marketing", channel="email", granted=True),
    )
    assert queries.has_consent(
        uow.session, member_id=member.id, purpose="marketing", channel="email"
    )
    service.consent_set(
        uow,
        member_id=member.id,
        consent=ConsentIn(
            purpose="marketing", channel="email", granted=False, source="member page"
        ),
    )
    assert not queries.has_consent(
        uow.session, member_id=member.id, purpose="marketing", channel="email"
    )
    history = queries.consent_history(uow.session, member_id=member.id)
    assert [(e.granted, e.source) for e in history] == [(True, "staff"), (False, "member page")]


def test_merge_moves_receipts_and_consents(uow, client) -> None:
    world = build_world(uow)
    survivor, duplicate = world.members
    service.consent_set(
        uow,
        member_id=duplicate.id,
        consent=ConsentIn(purpose="analytics", channel="post", granted=True),
    )
    uow.commit()
    payload = receipt_payload(world, "M-1")
    payload["member"] = {"member_id": duplicate.id}
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201

    record = service.member_merge(
        uow, survivor_id=survivor.id, merged_id=duplicate.id, actor="tester", reason="same person"
    )
    uow.commit()
    assert record.details["moved"]["receipt.member_id"] == 1
    assert record.details["moved"]["consent_event.member_id"] == 1
    count = uow.session.scalar(
        select(func.count()).select_from(Receipt).where(Receipt.member_id == survivor.id)
    )
    assert count == 1
    left = uow.session.scalar(
        select(func.count()).select_from(ConsentEvent).where(ConsentEvent.member_id == duplicate.id)
    )
    assert left == 0
    uow.session.refresh(duplicate)
    assert duplicate.status == "merged" and duplicate.merged_into_id == survivor.id
    # The duplicate's card still identifies the survivor, and the merge can be shown.
    assert (
        queries.member_identify(uow.session, card_no=world.members[1].card_no or "").id
        == survivor.id
    )
    assert [m.merged_id for m in queries.merges_of(uow.session, member_id=survivor.id)] == [
        duplicate.id
    ]
    with pytest.raises(Conflict):
        service.member_merge(uow, survivor_id=survivor.id, merged_id=duplicate.id, actor="tester")


def test_merge_into_itself_is_refused(uow) -> None:
    member = service.member_register(uow, data=MemberCreate(card_no="CARD0007"))
    with pytest.raises(InvalidInput):
        service.member_merge(uow, survivor_id=member.id, merged_id=member.id, actor="t")


def test_first_purchase_is_derived_from_receipts(uow, client) -> None:
    world = build_world(uow)
    payload = receipt_payload(world, "FP-1")
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    member = uow.session.get(Member, world.members[0].id)
    uow.session.refresh(member)
    assert member.first_purchase_at is not None
    assert member.first_purchase_category == "GROCERY"


def test_search_takes_like_wildcards_literally(uow) -> None:
    service.member_register(uow, data=MemberCreate(card_no="CARD0101", name="100% Zhang"))
    service.member_register(uow, data=MemberCreate(card_no="CARD0102", name="Li Si"))
    assert [m.name for m in queries.member_search(uow.session, text="%")] == ["100% Zhang"]
    assert queries.member_search(uow.session, text="_") == []


def test_first_purchase_moves_only_earlier(uow, client) -> None:
    world = build_world(uow)
    late = receipt_payload(world, "FP-L")
    late["occurred_at"] = "2026-11-20T10:00:00+08:00"
    early = receipt_payload(world, "FP-E")
    early["occurred_at"] = "2026-11-01T09:00:00+08:00"
    for payload in (
        late,
        early,
        {**receipt_payload(world, "FP-X"), "occurred_at": "2026-11-25T09:00:00+08:00"},
    ):
        assert (
            client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
        )
    member = uow.session.get(Member, world.members[0].id)
    uow.session.refresh(member)
    assert member.first_purchase_at is not None
    assert member.first_purchase_at.isoformat().startswith("2026-11-01T01:00")
