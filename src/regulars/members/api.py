"""Staff API of the members domain (the till's identify call lives with the till API)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from regulars.core.web import IdPath, UowDep
from regulars.members import queries, service
from regulars.members.schemas import (
    ConsentIn,
    ConsentRead,
    MemberCreate,
    MemberRead,
    MemberSummary,
    MemberUpdate,
    MergeRead,
    MergeRequest,
)
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1/members", tags=["members"])
Reader = Annotated[StaffAccount, Depends(require("members.read"))]
Writer = Annotated[StaffAccount, Depends(require("members.write"))]
Merger = Annotated[StaffAccount, Depends(require("members.merge"))]


@router.get("", response_model=list[MemberSummary])
def search_members(
    uow: UowDep,
    _who: Reader,
    q: Annotated[
        str | None, Query(max_length=100, description="mobile, card number or name")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[MemberSummary]:
    """Find members by mobile, card number or name."""
    found = queries.member_search(uow.session, text=q, limit=limit, offset=offset)
    return [queries.member_summary(m) for m in found]


@router.post("", response_model=MemberRead, status_code=201)
def register_member(uow: UowDep, data: MemberCreate, _who: Writer) -> MemberRead:
    """Register a member by mobile number or card number."""
    member = service.member_register(uow, data=data, source="staff")
    read = queries.member_read(uow.session, member)
    uow.commit()
    return read


@router.get("/{member_id}", response_model=MemberRead)
def get_member(request: Request, uow: UowDep, member_id: IdPath, who: Reader) -> MemberRead:
    """A member's profile (the read is written to the audit trail)."""
    read = queries.member_read(uow.session, queries.member_get(uow.session, member_id=member_id))
    audit_record(
        uow, actor=who, action="profile_view", member_id=member_id, page=str(request.url.path)
    )
    uow.commit()
    return read


@router.get("/{member_id}/export")
def export_member(
    request: Request,
    uow: UowDep,
    member_id: IdPath,
    who: Annotated[StaffAccount, Depends(require("members.export"))],
) -> dict[str, Any]:
    """Everything held about the member, decrypted (PIPL access request; audited)."""
    data = queries.member_export_all(uow, member_id=member_id)
    audit_record(
        uow, actor=who, action="member_export", member_id=member_id, page=str(request.url.path)
    )
    uow.commit()
    return data


@router.post("/{member_id}/erase")
def erase_member(
    request: Request,
    uow: UowDep,
    member_id: IdPath,
    who: Annotated[StaffAccount, Depends(require("members.erase"))],
) -> dict[str, Any]:
    """Erase the member's personal data; receipts stay for aggregates, unlinked (audited)."""
    unlinked = service.member_erase(uow, member_id=member_id, actor=who.username)
    audit_record(
        uow,
        actor=who,
        action="member_erase",
        member_id=member_id,
        page=str(request.url.path),
        detail=unlinked,
    )
    uow.commit()
    return {"member_id": member_id, "status": "erased", "unlinked": unlinked}


@router.patch("/{member_id}", response_model=MemberRead)
def update_member(uow: UowDep, member_id: IdPath, data: MemberUpdate, _who: Writer) -> MemberRead:
    """Change a member's data."""
    member = service.member_update(uow, member_id=member_id, data=data)
    read = queries.member_read(uow.session, member)
    uow.commit()
    return read


@router.post("/{member_id}/consents", response_model=list[ConsentRead], status_code=201)
def set_consent(uow: UowDep, member_id: IdPath, data: ConsentIn, _who: Writer) -> list[ConsentRead]:
    """Grant or withdraw consent for a purpose on a channel; returns the consents in force."""
    service.consent_set(uow, member_id=member_id, consent=data)
    current = [
        ConsentRead.model_validate(c)
        for c in queries.consents_current(uow.session, member_id=member_id)
    ]
    uow.commit()
    return current


@router.get("/{member_id}/consents/history", response_model=list[ConsentRead])
def consent_history(
    request: Request, uow: UowDep, member_id: IdPath, who: Reader
) -> list[ConsentRead]:
    """Every grant and withdrawal, oldest first (the read is written to the audit trail)."""
    queries.member_get(uow.session, member_id=member_id)
    history = [
        ConsentRead.model_validate(c)
        for c in queries.consent_history(uow.session, member_id=member_id)
    ]
    audit_record(
        uow, actor=who, action="consent_history", member_id=member_id, page=str(request.url.path)
    )
    uow.commit()
    return history


@router.post("/merge", response_model=MergeRead, status_code=201)
def merge_members(uow: UowDep, data: MergeRequest, who: Merger) -> MergeRead:
    """Merge a duplicate member into a survivor; everything moves and the merge is recorded."""
    record = service.member_merge(
        uow,
        survivor_id=data.survivor_id,
        merged_id=data.merged_id,
        actor=who.username,
        reason=data.reason,
    )
    read = MergeRead.model_validate(record)
    uow.commit()
    return read


@router.get("/{member_id}/duplicates", response_model=list[MemberSummary])
def member_duplicates(uow: UowDep, member_id: IdPath, _who: Reader) -> list[MemberSummary]:
    """Active members who may be the same person: the same name and no other birthday.

    Staff confirm a duplicate before merging it (``POST /api/v1/members/merge``).
    """
    return [
        queries.member_summary(m)
        for m in queries.duplicate_candidates(uow.session, member_id=member_id)
    ]


@router.get("/{member_id}/merges", response_model=list[MergeRead])
def member_merges(uow: UowDep, member_id: IdPath, _who: Reader) -> list[MergeRead]:
    """The merges this member took part in."""
    queries.member_get(uow.session, member_id=member_id)
    return [
        MergeRead.model_validate(m) for m in queries.merges_of(uow.session, member_id=member_id)
    ]
