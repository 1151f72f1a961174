"""Writes of the members domain. Services flush but never commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, delete, select, update

from regulars.core.crypto import FieldCipher, get_cipher
from regulars.core.db import Base
from regulars.core.errors import Conflict, InvalidInput
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.members import rules
from regulars.members.models import ConsentEvent, Member, MemberMerge, MemberOtp, MemberSession
from regulars.members.queries import member_by_card, member_by_email, member_by_mobile, member_get
from regulars.members.schemas import ConsentIn, MemberCreate, MemberUpdate

_PLAIN_FIELDS = (
    "name",
    "gender",
    "birthday",
    "community",
    "occupation",
    "hobbies",
    "preferences",
    "delivery_needs",
    "household_size",
    "children_birth_years",
    "pets",
)


def _set_mobile(uow: UnitOfWork, member: Member, mobile: str) -> None:
    """Store a (normalised) mobile encrypted, indexed and masked; refuse one in use."""
    e164 = rules.normalise_mobile(mobile)
    other = member_by_mobile(uow.session, mobile_e164=e164)
    if other is not None and other.id != member.id:
        raise Conflict(_("mobile number is already registered"), field="mobile")
    cipher = get_cipher()
    member.mobile_enc = cipher.encrypt(e164)
    member.mobile_index = cipher.blind_index(e164)
    member.mobile_masked = rules.mask_mobile(e164)


def _set_email(uow: UnitOfWork, member: Member, email: str) -> None:
    """Store an email address encrypted, indexed (lower-cased) and masked; refuse one in use."""
    address = rules.normalise_email(email)
    other = member_by_email(uow.session, email=address)
    if other is not None and other.id != member.id:
        raise Conflict(_("email address is already registered"), field="email")
    cipher = get_cipher()
    member.email_enc = cipher.encrypt(address)
    member.email_index = cipher.blind_index(address)
    member.email_masked = rules.mask_email(address)


def _set_card(uow: UnitOfWork, member: Member, card_no: str) -> None:
    """Give the member a card number; refuse one in use."""
    other = member_by_card(uow.session, card_no=card_no)
    if other is not None and other.id != member.id:
        raise Conflict(_("card number is already registered"), field="card_no")
    member.card_no = card_no


def member_register(
    uow: UnitOfWork,
    *,
    data: MemberCreate,
    source: str = "staff",
    external_ref: str | None = None,
    is_demo: bool = False,
) -> Member:
    """Register a member by mobile number or card number, with optional profile and consents."""
    member = Member(source=source, external_ref=external_ref, is_demo=is_demo, status="active")
    for name in _PLAIN_FIELDS:
        setattr(member, name, getattr(data, name))
    member.address_enc = get_cipher().encrypt(data.address)
    if data.mobile:
        _set_mobile(uow, member, data.mobile)
    if data.card_no:
        _set_card(uow, member, data.card_no)
    if data.email:
        _set_email(uow, member, data.email)
    uow.session.add(member)
    uow.flush()
    for consent in data.consents:
        consent_set(uow, member_id=member.id, consent=consent)
    return member


def member_update(uow: UnitOfWork, *, member_id: int, data: MemberUpdate) -> Member:
    """Change the fields present in ``data``; mobile and card stay unique."""
    member = member_get(uow.session, member_id=member_id)
    if member.status != "active":
        raise Conflict(
            _("member {id} is {status} and cannot be changed"), id=member_id, status=member.status
        )
    sent = data.model_fields_set
    for name in _PLAIN_FIELDS:
        if name in sent:
            value = getattr(data, name)
            if name in ("hobbies", "preferences", "children_birth_years", "pets") and value is None:
                value = []
            setattr(member, name, value)
    if "address" in sent:
        member.address_enc = get_cipher().encrypt(data.address)
    if "mobile" in sent and data.mobile:
        _set_mobile(uow, member, data.mobile)
    if "card_no" in sent and data.card_no:
        _set_card(uow, member, data.card_no)
    if "email" in sent and data.email:
        _set_email(uow, member, data.email)
    uow.flush()
    return member


def consent_set(uow: UnitOfWork, *, member_id: int, consent: ConsentIn) -> ConsentEvent:
    """Record a grant or withdrawal of consent (a new event; history is never rewritten)."""
    member_get(uow.session, member_id=member_id)
    event = ConsentEvent(
        member_id=member_id,
        purpose=consent.purpose,
        channel=consent.channel,
        granted=consent.granted,
        source=consent.source,
        note=consent.note,
        at=utcnow(),
    )
    uow.session.add(event)
    uow.flush()
    return event


MergeHook = Callable[[UnitOfWork, int, int], None]
_merge_hooks: list[MergeHook] = []


def merge_hook_register(hook: MergeHook) -> None:
    """Run ``hook(uow, survivor_id, merged_id)`` inside every merge (registered once)."""
    if hook not in _merge_hooks:
        _merge_hooks.append(hook)


def _member_references(*, merging: bool = True) -> list[tuple[Table, str]]:
    """Every (table, column) with a foreign key to ``member.id`` (that follows a merge).

    Found from the schema rather than listed, so a table added by a later domain (points,
    tickets, lists) moves with the member without this domain importing it. A column opts
    out of merges with ``info={"merge": False}``; ``merging=False`` lists those too.
    """
    found: list[tuple[Table, str]] = []
    for table in Base.metadata.sorted_tables:
        if table.name in ("member", "member_merge"):
            continue
        for column in table.columns:
            if merging and column.info.get("merge", True) is False:
                continue
            if any(fk.column.table.name == "member" for fk in column.foreign_keys):
                found.append((table, column.name))
    return found


def member_merge(
    uow: UnitOfWork, *, survivor_id: int, merged_id: int, actor: str, reason: str | None = None
) -> MemberMerge:
    """Merge a duplicate member into the survivor.

    Everything that refers to the duplicate (receipts, consents, and any later domain's
    rows) moves to the survivor; the survivor keeps its own identity and gains the
    duplicate's missing fields; the duplicate stays as a ``merged`` tombstone pointing to
    the survivor, so replayed receipts and old cards still resolve.
    """
    if survivor_id == merged_id:
        raise InvalidInput(_("a member cannot be merged into itself"), field="merged_id")
    survivor = member_get(uow.session, member_id=survivor_id)
    merged = member_get(uow.session, member_id=merged_id)
    for who, field in ((survivor, "survivor_id"), (merged, "merged_id")):
        if who.status != "active":
            raise Conflict(
                _("member {id} is {status} and cannot be merged"),
                field=field,
                id=who.id,
                status=who.status,
            )
    for hook in _merge_hooks:
        hook(uow, survivor.id, merged.id)
    moved: dict[str, int] = {}
    for table, column in _member_references():
        result = uow.session.execute(
            update(table).where(table.c[column] == merged_id).values({column: survivor_id})
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            moved[f"{table.name}.{column}"] = count
    filled: list[str] = []
    for name in (*_PLAIN_FIELDS, "address_enc", "household_composition", "age_band", "income_band"):
        if getattr(survivor, name) in (None, [], "") and getattr(merged, name) not in (
            None,
            [],
            "",
        ):
            setattr(survivor, name, getattr(merged, name))
            filled.append(name)
    if merged.first_purchase_at is not None and (
        survivor.first_purchase_at is None or merged.first_purchase_at < survivor.first_purchase_at
    ):
        survivor.first_purchase_at = merged.first_purchase_at
        survivor.first_purchase_category = merged.first_purchase_category
    # The duplicate's identifiers pass to the survivor when it has none; unique columns
    # are cleared on the tombstone first so the constraint never sees them twice.
    identity: dict[str, Any] = {}
    if survivor.mobile_index is None and merged.mobile_index is not None:
        identity.update(
            mobile_enc=merged.mobile_enc,
            mobile_index=merged.mobile_index,
            mobile_masked=merged.mobile_masked,
        )
    if survivor.email_index is None and merged.email_index is not None:
        identity.update(
            email_enc=merged.email_enc,
            email_index=merged.email_index,
            email_masked=merged.email_masked,
        )
    if survivor.card_no is None and merged.card_no is not None:
        identity["card_no"] = merged.card_no
    if identity:
        for name in identity:
            setattr(merged, name, None)
        uow.flush()
        for name, value in identity.items():
            setattr(survivor, name, value)
        filled.extend(k for k in identity if k not in ("mobile_enc", "email_enc"))
    merged.status = "merged"
    merged.merged_into_id = survivor.id
    record = MemberMerge(
        survivor_id=survivor.id,
        merged_id=merged.id,
        actor=actor,
        reason=reason,
        merged_at=utcnow(),
        details={"moved": moved, "filled": sorted(filled)},
    )
    uow.session.add(record)
    uow.flush()
    return record


def member_erase(uow: UnitOfWork, *, member_id: int, actor: str) -> dict[str, int]:
    """Erase a member's personal data (PIPL): anonymise the record, keep aggregates.

    Personal fields are cleared, every consent is withdrawn, and rows of other domains
    whose member column is marked ``info={"erase": "unlink"}`` (receipts) lose the link,
    so sales totals stay right but no longer point to a person. The anonymised record
    stays as an ``erased`` tombstone so ids in the audit trail still resolve.
    """
    member = member_get(uow.session, member_id=member_id)
    if member.status == "erased":
        raise Conflict(_("member {id} is already erased"), field="member_id", id=member_id)
    for key, _value in consents_in_force(uow, member_id=member_id):
        purpose, channel = key
        consent_set(
            uow,
            member_id=member_id,
            consent=ConsentIn(
                purpose=purpose, channel=channel, granted=False, source="erasure", note=actor
            ),
        )
    for name in (
        *_PLAIN_FIELDS,
        "household_composition",
        "age_band",
        "income_band",
        "delivery_needs",
    ):
        setattr(member, name, [] if isinstance(getattr(member, name), list) else None)
    for name in (
        "mobile_enc",
        "mobile_index",
        "mobile_masked",
        "email_enc",
        "email_index",
        "email_masked",
        "address_enc",
        "card_no",
        "external_ref",
        "first_purchase_at",
        "first_purchase_category",
    ):
        setattr(member, name, None)
    member.extra = {}
    member.status = "erased"
    # Sign-in codes and member-page sessions end with the person they belonged to.
    uow.session.execute(delete(MemberOtp).where(MemberOtp.member_id == member_id))
    uow.session.execute(delete(MemberSession).where(MemberSession.member_id == member_id))
    unlinked: dict[str, int] = {}
    for table, column in _member_references(merging=False):
        how = table.c[column].info.get("erase")
        if how == "unlink":
            statement: Any = (
                update(table).where(table.c[column] == member_id).values({column: None})
            )
        elif how == "delete":
            # Derived personal data (scores, inferred household signals) goes with the person.
            statement = delete(table).where(table.c[column] == member_id)
        else:
            continue
        result = uow.session.execute(statement)
        unlinked[f"{table.name}.{column}"] = int(getattr(result, "rowcount", 0) or 0)
    uow.flush()
    return unlinked


def consents_in_force(uow: UnitOfWork, *, member_id: int) -> list[tuple[tuple[str, str], bool]]:
    """(purpose, channel) → granted for each consent currently granted."""
    events = uow.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    latest: dict[tuple[str, str], bool] = {}
    for event in events:
        latest[(event.purpose, event.channel)] = event.granted
    return [(key, granted) for key, granted in latest.items() if granted]


def member_reencrypt(
    uow: UnitOfWork, *, old: FieldCipher, new: FieldCipher, batch: int = 500
) -> int:
    """Re-encrypt every member's mobile, email and address with a new key; rebuild the indexes."""
    changed = 0
    last_id = 0
    while True:
        rows = list(
            uow.session.scalars(
                select(Member).where(Member.id > last_id).order_by(Member.id).limit(batch)
            )
        )
        if not rows:
            return changed
        for member in rows:
            mobile = old.decrypt(member.mobile_enc)
            member.mobile_enc = new.encrypt(mobile)
            member.mobile_index = new.blind_index(mobile) if mobile else None
            email = old.decrypt(member.email_enc)
            member.email_enc = new.encrypt(email)
            member.email_index = new.blind_index(email) if email else None
            member.address_enc = new.encrypt(old.decrypt(member.address_enc))
            changed += 1
        last_id = rows[-1].id
        uow.flush()
