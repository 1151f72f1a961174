"""Bulk load of members: validated like a registration, keyed by card, mobile or reference.

A row names a member by ``card_no``, ``mobile`` and/or ``external_ref``. When one of them
is already recorded, the row updates that member (cells left empty keep what is there);
when nothing differs the row is *unchanged*, so loading a file twice changes nothing. A
row whose keys point at two different members, or repeat an earlier row of the file, is
a bad row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import polars as pl
from pydantic import ValidationError
from sqlalchemy import Table, insert, or_, select, update

from regulars.core.crypto import FieldCipher, get_cipher
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk
from regulars.imports.formats import EXTRA_PREFIX, LINE, LIST_SEPARATOR
from regulars.imports.outcome import (
    Checkpoint,
    Outcome,
    Progress,
    refuse_nul,
    report_validation,
    say,
)
from regulars.members import rules
from regulars.members.models import Member
from regulars.members.schemas import MemberCreate

BATCH = 2000
# Core table, not the ORM entity: the ORM's bulk insert splits rows by which keys are None.
_MEMBER = cast(Table, Member.__table__)
_LISTS = ("hobbies", "preferences", "children_birth_years", "pets")
_SCHEMA_FIELDS = (
    "card_no",
    "mobile",
    "name",
    "gender",
    "birthday",
    "address",
    "community",
    "occupation",
    "delivery_needs",
    "household_size",
)
_BANDS = {"household_composition": 50, "age_band": 20, "income_band": 20, "external_ref": 64}
_PLAIN = (
    "name",
    "gender",
    "birthday",
    "community",
    "occupation",
    "delivery_needs",
    "household_size",
    *_LISTS,
    "household_composition",
    "age_band",
    "income_band",
)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse(outcome: Outcome, row: dict[str, Any]) -> dict[str, Any] | None:
    """Validate one row with the registration schema; return the member's values or ``None``."""
    line = int(row[LINE])
    if refuse_nul(outcome, row):
        return None
    given: dict[str, Any] = {k: row[k] for k in _SCHEMA_FIELDS if row.get(k) is not None}
    for name in _LISTS:
        if row.get(name) is not None:
            given[name] = [p.strip() for p in str(row[name]).split(LIST_SEPARATOR) if p.strip()]
    bad = False
    for name, limit in _BANDS.items():
        if row.get(name) is not None and len(str(row[name])) > limit:
            outcome.add(
                line, name, say(_("longer than {limit} characters"), limit=limit), row[name]
            )
            bad = True
    try:
        data = MemberCreate.model_validate(given)
    except ValidationError as exc:
        report_validation(outcome, line, exc, {})
        return None
    if bad:
        return None
    values: dict[str, Any] = {
        name: getattr(data, name) for name in _PLAIN if name in data.model_fields_set
    }
    for name in ("household_composition", "age_band", "income_band"):
        if row.get(name) is not None:
            values[name] = row[name]
    extra = {
        k.removeprefix(EXTRA_PREFIX): v
        for k, v in row.items()
        if k.startswith(EXTRA_PREFIX) and v is not None
    }
    if extra:
        values["extra"] = extra
    return {
        "line": line,
        "values": values,
        "card_no": data.card_no,
        "mobile": data.mobile,
        "external_ref": row.get("external_ref"),
        "address": data.address,
    }


def _existing(
    uow: UnitOfWork, cards: list[str], indexes: list[str], refs: list[str]
) -> list[Member]:
    """Members holding any of the keys, fetched in chunks."""
    found: dict[int, Member] = {}
    for column, keys in (
        (Member.card_no, cards),
        (Member.mobile_index, indexes),
        (Member.external_ref, refs),
    ):
        for chunk in _chunks(sorted(set(keys)), 5000):
            for member in uow.session.scalars(select(Member).where(or_(column.in_(chunk)))):
                found[member.id] = member
    return list(found.values())


def _changes(member: Member, item: dict[str, Any], cipher: FieldCipher) -> dict[str, Any]:
    """The columns a row would change on an existing member."""
    changes: dict[str, Any] = {}
    for name, value in item["values"].items():
        if name == "extra":
            merged = {**(member.extra or {}), **value}
            if merged != (member.extra or {}):
                changes["extra"] = merged
        elif getattr(member, name) != value:
            changes[name] = value
    if item["card_no"] and member.card_no != item["card_no"]:
        changes["card_no"] = item["card_no"]
    if item["external_ref"] and member.external_ref != item["external_ref"]:
        changes["external_ref"] = item["external_ref"]
    if item["index"] and member.mobile_index != item["index"]:
        changes.update(_mobile_columns(item["mobile"], cipher))
    if item["address"] and cipher.decrypt(member.address_enc) != item["address"]:
        changes["address_enc"] = cipher.encrypt(item["address"])
    return changes


def _mobile_columns(e164: str, cipher: FieldCipher) -> dict[str, Any]:
    """A mobile at rest, exactly as registration stores it."""
    return {
        "mobile_enc": cipher.encrypt(e164),
        "mobile_index": cipher.blind_index(e164),
        "mobile_masked": rules.mask_mobile(e164),
    }


def members_load(
    uow: UnitOfWork,
    frame: pl.DataFrame,
    *,
    outcome: Outcome,
    source: str = "import",
    is_demo: bool = False,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> list[int]:
    """Load member rows (see the module docstring); return the ids of members loaded or kept."""
    cipher = get_cipher()
    outcome.total += frame.height
    rows = frame.to_dicts()
    member_ids: list[int] = []
    seen: dict[tuple[str, str], int] = {}
    for done, batch in enumerate(_chunks(rows, BATCH)):
        items: list[dict[str, Any]] = []
        for row in batch:
            item = _parse(outcome, row)
            if item is None:
                continue
            item["index"] = cipher.blind_index(item["mobile"]) if item["mobile"] else None
            keys = [
                ("card_no", item["card_no"]),
                ("mobile", item["index"]),
                ("external_ref", item["external_ref"]),
            ]
            repeated = next(((k, seen[(k, v)]) for k, v in keys if v and (k, v) in seen), None)
            if repeated is not None:
                shown = row.get(repeated[0])
                outcome.add(
                    item["line"],
                    repeated[0],
                    say(_("repeats line {line}"), line=repeated[1]),
                    shown,
                )
                continue
            for key in keys:
                if key[1]:
                    seen[key] = item["line"]
            items.append(item)
        bulk.import_turn(uow, bulk.waiting_report(progress, done * BATCH, len(rows)))
        _store(uow, items, outcome, cipher, source=source, is_demo=is_demo, member_ids=member_ids)
        uow.flush()
        if checkpoint is not None:
            checkpoint()
        if progress is not None:
            progress("members", min((done + 1) * BATCH, len(rows)), len(rows))
    return member_ids


def _store(
    uow: UnitOfWork,
    items: list[dict[str, Any]],
    outcome: Outcome,
    cipher: FieldCipher,
    *,
    source: str,
    is_demo: bool,
    member_ids: list[int],
) -> None:
    """Insert new members and update known ones for one batch of valid rows (in the
    import's turn, see :func:`bulk.import_turn`)."""
    existing = _existing(
        uow,
        [i["card_no"] for i in items if i["card_no"]],
        [i["index"] for i in items if i["index"]],
        [i["external_ref"] for i in items if i["external_ref"]],
    )
    by_key: dict[tuple[str, str], Member] = {}
    for member in existing:
        for key in (
            ("card_no", member.card_no),
            ("mobile", member.mobile_index),
            ("external_ref", member.external_ref),
        ):
            if key[1]:
                by_key[(key[0], key[1])] = member
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    for item in items:
        matches = {
            by_key[(k, v)].id: by_key[(k, v)]
            for k, v in (
                ("card_no", item["card_no"]),
                ("mobile", item["index"]),
                ("external_ref", item["external_ref"]),
            )
            if v and (k, v) in by_key
        }
        if len(matches) > 1:
            outcome.add(
                item["line"],
                "card_no",
                say(_("card, mobile and reference belong to different members")),
            )
            continue
        if matches:
            member = next(iter(matches.values()))
            if member.status != "active":
                outcome.add(
                    item["line"],
                    "card_no",
                    say(_("member {id} is {status}"), id=member.id, status=member.status),
                )
                continue
            changes = _changes(member, item, cipher)
            if changes:
                uow.session.execute(
                    update(Member).where(Member.id == member.id).values(**changes, updated_at=now)
                )
                outcome.loaded += 1
            else:
                outcome.unchanged += 1
            member_ids.append(member.id)
            continue
        row: dict[str, Any] = {
            "hobbies": [],
            "preferences": [],
            "children_birth_years": [],
            "pets": [],
            "extra": {},
            **item["values"],
            "card_no": item["card_no"],
            "external_ref": item["external_ref"],
            "address_enc": cipher.encrypt(item["address"]),
            "mobile_enc": None,
            "mobile_index": None,
            "mobile_masked": None,
            "status": "active",
            "source": source,
            "is_demo": is_demo,
            "created_at": now,
            "updated_at": now,
        }
        if item["mobile"]:
            row.update(_mobile_columns(item["mobile"], cipher))
        new_rows.append(row)
    if new_rows:
        # One shape for every row so executemany sends a single statement.
        columns = set().union(*(r.keys() for r in new_rows))
        shaped = [{c: r.get(c) for c in columns} for r in new_rows]
        ids = uow.session.scalars(
            insert(_MEMBER).returning(_MEMBER.c.id, sort_by_parameter_order=True), shaped
        ).all()
        member_ids.extend(int(i) for i in ids)
        outcome.loaded += len(new_rows)
