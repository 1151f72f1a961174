"""Reads of the members domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Select,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Session

from regulars.core.crypto import get_cipher
from regulars.core.db import contains_pattern
from regulars.core.errors import DomainError, NotFound
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID
from regulars.core.uow import UnitOfWork
from regulars.members import extensions, rules
from regulars.members.models import ConsentEvent, Member, MemberMerge
from regulars.members.schemas import ConsentRead, MemberRead, MemberSummary


def member_get(session: Session, *, member_id: int) -> Member:
    """Return a member by id or raise ``NotFound``."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(_("member {id} not found"), field="member_id", id=member_id)
    return member


def member_resolve(session: Session, *, member_id: int) -> Member:
    """Return the member, following merges to the surviving record."""
    member = member_get(session, member_id=member_id)
    seen = {member.id}
    while member.merged_into_id is not None and member.merged_into_id not in seen:
        seen.add(member.merged_into_id)
        member = member_get(session, member_id=member.merged_into_id)
    return member


def member_by_mobile(session: Session, *, mobile_e164: str) -> Member | None:
    """Find a member by mobile through its blind index (no decryption of other rows)."""
    index = get_cipher().blind_index(mobile_e164)
    return session.scalars(select(Member).where(Member.mobile_index == index)).first()


def member_by_email(session: Session, *, email: str) -> Member | None:
    """Find a member by (normalised, lower-case) email through its blind index."""
    index = get_cipher().blind_index(email)
    return session.scalars(select(Member).where(Member.email_index == index)).first()


def member_by_card(session: Session, *, card_no: str) -> Member | None:
    """Find a member by card number."""
    return session.scalars(select(Member).where(Member.card_no == card_no)).first()


def member_identify(
    session: Session,
    *,
    mobile: str | None = None,
    card_no: str | None = None,
    member_code: str | None = None,
) -> Member:
    """Identify a member at the till by mobile, card number or member code (merges followed)."""
    found: Member | None = None
    field = "mobile"
    if mobile:
        found = member_by_mobile(session, mobile_e164=rules.normalise_mobile(mobile))
    elif card_no:
        field = "card_no"
        found = member_by_card(session, card_no=card_no)
    elif member_code:
        field = "member_code"
        found = session.get(Member, rules.parse_member_code(member_code))
    if found is None:
        raise NotFound(_("no member matches this {field}"), field=field)
    member = member_resolve(session, member_id=found.id)
    if member.status == "erased":
        raise NotFound(_("no member matches this {field}"), field=field)
    return member


@dataclass(frozen=True, slots=True)
class TillMember:
    """What the till path needs of a member: its id, status and first purchase date, and
    the values of the ``also`` columns the caller asked :func:`member_for_till` for."""

    id: int
    status: str
    first_purchase_at: datetime | None
    also: tuple[Any, ...] = ()


_TILL_COLUMNS = (Member.id, Member.status, Member.merged_into_id, Member.first_purchase_at)


class TillMemberQuery:
    """The statements of :func:`member_for_till`, built once (SQLAlchemy then reuses their
    compiled form and psycopg prepares them), with the caller's ``also`` columns.

    ``also`` are further columns read in the same statement, correlated with the
    ``member`` row or taken from ``join`` (a from-clause and its ``ON`` condition, outer-
    joined to ``member``): the layers above ask what they need to know of the member
    without a round trip of their own. Their bound parameters are given to
    :func:`member_for_till`.
    """

    def __init__(
        self,
        also: Sequence[ColumnElement[Any]] = (),
        join: tuple[FromClause, ColumnElement[bool]] | None = None,
    ) -> None:
        self.width = len(_TILL_COLUMNS)
        columns = select(*_TILL_COLUMNS, *also)
        if join is not None:
            # A left outer join: the member is found whether or not the right side has a row.
            columns = columns.select_from(Member.__table__.outerjoin(*join))
        key: BindParameter[Any] = bindparam("member_key")
        self.by_id = columns.where(Member.id == key)
        self.by_mobile_index = columns.where(Member.mobile_index == key)
        self.by_card = columns.where(Member.card_no == key)


PLAIN_TILL_QUERY = TillMemberQuery()


def member_for_till(
    session: Session,
    *,
    member_id: int | None = None,
    mobile: str | None = None,
    card_no: str | None = None,
    member_code: str | None = None,
    query: TillMemberQuery = PLAIN_TILL_QUERY,
    params: Mapping[str, Any] | None = None,
) -> TillMember | None:
    """The member a receipt names (merges followed), in one Core read; ``None`` if none.

    The till's hot path: no ORM object is loaded, and the statement runs on the session's
    connection (nothing pending is flushed first). ``query`` may carry further columns,
    whose values come back in :attr:`TillMember.also` (``params`` binds theirs). Raises
    ``InvalidInput`` for a mobile number or member code that is malformed.
    """
    statement: Select[Any]
    key: int | str
    if member_id is not None:
        statement, key = query.by_id, member_id
    elif mobile:
        index = get_cipher().blind_index(rules.normalise_mobile(mobile))
        statement, key = query.by_mobile_index, index
    elif card_no:
        statement, key = query.by_card, card_no
    elif member_code:
        statement, key = query.by_id, rules.parse_member_code(member_code)
    else:
        return None
    conn = session.connection()
    values = {**(params or {}), "member_key": key}
    row = conn.execute(statement, values).first()
    seen: set[int] = set()
    while row is not None and row.merged_into_id is not None and row.id not in seen:
        seen.add(row.id)
        row = conn.execute(query.by_id, {**values, "member_key": row.merged_into_id}).first()
    if row is None:
        return None
    return TillMember(
        id=row.id,
        status=row.status,
        first_purchase_at=row.first_purchase_at,
        also=tuple(row[query.width :]),
    )


def _by_typed_mobile(session: Session, text: str) -> Member | None:
    """The member whose mobile staff typed (spaces and dashes allowed), if it is one."""
    digits = text.replace(" ", "").replace("-", "")
    if not (digits.lstrip("+").isdigit() and len(digits) >= 11):
        return None
    try:
        return member_by_mobile(session, mobile_e164=rules.normalise_mobile(digits))
    except DomainError:
        return None


def member_search(
    session: Session, *, text: str | None = None, limit: int = 50, offset: int = 0
) -> list[Member]:
    """Find members by mobile, card number or (part of) name, newest first."""
    query = select(Member).where(Member.status != "merged")
    if text:
        text = text.strip()
        by_mobile = _by_typed_mobile(session, text)
        if by_mobile is not None:
            return [by_mobile]
        pattern = contains_pattern(text.lower())
        query = query.where(
            (Member.card_no == text) | (func.lower(Member.name).like(pattern, escape="\\"))
        )
    query = query.order_by(Member.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def duplicate_candidates(session: Session, *, member_id: int, limit: int = 20) -> list[Member]:
    """Active members who may be the same person as ``member_id``: the same name and no
    other birthday (equal, or missing on either side). Staff decide; nothing is merged here.

    A name alone is a weak sign (common names repeat in a chain), so a birthday that
    differs rules a candidate out; one that is missing does not (registrations at a till
    rarely carry it).
    """
    member = member_get(session, member_id=member_id)
    if not member.name or member.status != "active":
        return []
    query = select(Member).where(
        Member.name == member.name, Member.id != member.id, Member.status == "active"
    )
    if member.birthday is not None:
        query = query.where((Member.birthday == member.birthday) | Member.birthday.is_(None))
    return list(session.scalars(query.order_by(Member.id).limit(limit)))


def member_by_reference(session: Session, *, text: str) -> Member:
    """The one member a staff member names by mobile, card number or id (``#12`` or ``12``).

    A card number is tried before an id (cards may be all digits); raises ``NotFound``
    naming the text when nothing matches.
    """
    text = text.strip()
    by_mobile = _by_typed_mobile(session, text)
    if by_mobile is not None:
        return by_mobile
    if text:
        by_card = member_by_card(session, card_no=text)
        if by_card is not None:
            return by_card
    number = text.removeprefix("#")
    if number.isdigit() and 0 < int(number) <= MAX_ID:
        by_id = session.get(Member, int(number))
        if by_id is not None:
            return by_id
    raise NotFound(_("no member found for {text}"), field="other", text=text)


def consents_current(session: Session, *, member_id: int) -> list[ConsentEvent]:
    """The consent in force per purpose and channel (the newest event of each)."""
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    latest: dict[tuple[str, str], ConsentEvent] = {}
    for event in events:
        latest[(event.purpose, event.channel)] = event
    return [latest[key] for key in sorted(latest)]


def consent_history(session: Session, *, member_id: int) -> list[ConsentEvent]:
    """Every consent event of a member, oldest first."""
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.member_id == member_id)
            .order_by(ConsentEvent.at, ConsentEvent.id)
        )
    )


def has_consent(session: Session, *, member_id: int, purpose: str, channel: str) -> bool:
    """Tell whether the member currently consents to ``purpose`` on ``channel``."""
    event = session.scalars(
        select(ConsentEvent)
        .where(
            ConsentEvent.member_id == member_id,
            ConsentEvent.purpose == purpose,
            ConsentEvent.channel == channel,
        )
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
    ).first()
    return bool(event and event.granted)


def merges_of(session: Session, *, member_id: int) -> list[MemberMerge]:
    """Merges in which the member survived or was absorbed."""
    return list(
        session.scalars(
            select(MemberMerge)
            .where((MemberMerge.survivor_id == member_id) | (MemberMerge.merged_id == member_id))
            .order_by(MemberMerge.merged_at)
        )
    )


def member_read(session: Session, member: Member) -> MemberRead:
    """Build the staff view of a member (address decrypted, mobile masked)."""
    consents = [
        ConsentRead.model_validate(c) for c in consents_current(session, member_id=member.id)
    ]
    return MemberRead(
        id=member.id,
        member_code=rules.member_code(member.id),
        card_no=member.card_no,
        mobile_masked=member.mobile_masked,
        email_masked=member.email_masked,
        name=member.name,
        status=member.status,
        gender=member.gender,
        birthday=member.birthday,
        address=get_cipher().decrypt(member.address_enc),
        community=member.community,
        occupation=member.occupation,
        hobbies=member.hobbies or [],
        preferences=member.preferences or [],
        delivery_needs=member.delivery_needs,
        first_purchase_at=member.first_purchase_at,
        first_purchase_category=member.first_purchase_category,
        household_size=member.household_size,
        children_birth_years=member.children_birth_years or [],
        pets=member.pets or [],
        household_composition=member.household_composition,
        age_band=member.age_band,
        income_band=member.income_band,
        merged_into_id=member.merged_into_id,
        source=member.source,
        is_demo=member.is_demo,
        created_at=member.created_at,
        consents=consents,
    )


def member_summary(member: Member) -> MemberSummary:
    """The short view of a member (tills, search lists)."""
    return MemberSummary(
        id=member.id,
        member_code=rules.member_code(member.id),
        card_no=member.card_no,
        mobile_masked=member.mobile_masked,
        name=member.name,
        status=member.status,
    )


def member_mobile(member: Member) -> str | None:
    """The member's mobile in full (only for roles allowed to see it; the caller audits)."""
    return get_cipher().decrypt(member.mobile_enc)


def member_email(member: Member) -> str | None:
    """The member's email address in full (same rule as the full mobile: the caller audits)."""
    return get_cipher().decrypt(member.email_enc)


def member_export(session: Session, *, member_id: int) -> dict[str, object]:
    """Everything the members domain holds about one member, decrypted (PIPL access request)."""
    member = member_get(session, member_id=member_id)
    profile = member_read(session, member).model_dump(mode="json")
    profile["mobile"] = member_mobile(member)
    profile["email"] = member_email(member)
    history = [
        ConsentRead.model_validate(c).model_dump(mode="json")
        for c in consent_history(session, member_id=member_id)
    ]
    merges = [
        {
            "survivor_id": m.survivor_id,
            "merged_id": m.merged_id,
            "merged_at": m.merged_at.isoformat(),
            "details": m.details,
        }
        for m in merges_of(session, member_id=member_id)
    ]
    return {"profile": profile, "consent_history": history, "merges": merges}


def member_export_all(uow: UnitOfWork, *, member_id: int) -> dict[str, Any]:
    """The member's data from every domain that registered an extension (PIPL access request)."""
    data: dict[str, Any] = member_export(uow.session, member_id=member_id)
    for extension in extensions.registered():
        data[extension.key] = extension.export(uow, member_id=member_id)
    return data


def consenting_member_ids(
    session: Session, *, purpose: str, channel: str, member_ids: list[int] | None = None
) -> set[int]:
    """Members whose newest consent event for ``purpose`` on ``channel`` is a grant (one query)."""
    newest = (
        select(func.max(ConsentEvent.id).label("id"))
        .where(ConsentEvent.purpose == purpose, ConsentEvent.channel == channel)
        .group_by(ConsentEvent.member_id)
        .subquery()
    )
    query = (
        select(ConsentEvent.member_id)
        .join(newest, newest.c.id == ConsentEvent.id)
        .where(ConsentEvent.granted.is_(True))
    )
    found = {int(m) for m in session.scalars(query)}
    return found if member_ids is None else found & set(member_ids)
