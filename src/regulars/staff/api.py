"""Staff API: login for a bearer token, accounts and their administration (admin: enable,
disable, reset a password, unlock, set the role and stores), the audit trail (admin), and
the permission dependency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from regulars.core.errors import Forbidden, Unauthorized
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID
from regulars.core.web import IdPath, UowDep
from regulars.staff import audit, rules, service
from regulars.staff.models import AuditEvent, StaffAccount
from regulars.staff.schemas import (
    ActiveSet,
    AuditRead,
    AwareTime,
    LoginRequest,
    RoleSet,
    StaffCreate,
    StaffCreated,
    StaffPasswordReset,
    StaffRead,
    TokenRead,
)

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
audit_router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
_bearer = HTTPBearer(auto_error=False, description="Staff token from POST /api/v1/staff/login")


def current_staff(
    uow: UowDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> StaffAccount:
    """The staff account behind the bearer token, or 401."""
    if credentials is None:
        raise Unauthorized(_("log in first"))
    return service.token_verify(uow, token=credentials.credentials)


def require(permission: str) -> Callable[..., StaffAccount]:
    """Dependency factory: the current staff account, if its role holds ``permission``."""

    def _check(account: Annotated[StaffAccount, Depends(current_staff)]) -> StaffAccount:
        if not rules.allowed(account.role, permission):
            raise Forbidden(_("your role may not do this"))
        return account

    return _check


@router.post("/login", response_model=TokenRead)
def login(uow: UowDep, data: LoginRequest) -> TokenRead:
    """Exchange a username and password for a bearer token."""
    try:
        account = service.staff_authenticate(uow, username=data.username, password=data.password)
    except Unauthorized:
        uow.commit()  # keep the failure count, which drives the lockout
        raise
    token, row = service.token_issue(uow, account=account)
    # Audited as a page login is, so the trail (and ``staff list``) shows API logins too.
    audit.audit_record(uow, actor=account, action="login", page="/api/v1/staff/login")
    uow.commit()
    return TokenRead(access_token=token, expires_at=row.expires_at)


@router.get("/me", response_model=StaffRead)
def me(account: Annotated[StaffAccount, Depends(current_staff)]) -> StaffAccount:
    """The logged-in account."""
    return account


@router.get("", response_model=list[StaffRead])
def list_staff(
    uow: UowDep, _who: Annotated[StaffAccount, Depends(require("staff.manage"))]
) -> list[StaffAccount]:
    """All staff accounts (admin)."""
    return service.staff_list(uow)


@router.post("", response_model=StaffCreated, status_code=201)
def create_staff(
    uow: UowDep, data: StaffCreate, _who: Annotated[StaffAccount, Depends(require("staff.manage"))]
) -> StaffCreated:
    """Create a staff account (admin); a generated one-time password is returned once.
    Every store must exist, and a store manager needs one (422 naming ``store_ids``), as
    when the role is set later."""
    account, one_time = service.staff_create(uow, data=data)
    uow.commit()
    created = StaffCreated.model_validate(account)
    created.one_time_password = one_time
    return created


Admin = Annotated[StaffAccount, Depends(require("staff.manage"))]


@router.post("/{staff_id}/active", response_model=StaffRead)
def set_active(
    request: Request, uow: UowDep, staff_id: IdPath, data: ActiveSet, who: Admin
) -> StaffAccount:
    """Enable or disable an account (admin; not one's own); a disabled account's sessions
    and tokens stop working. Audited as ``staff_active``, like the staff page."""
    account = service.staff_set_active(uow, staff_id=staff_id, active=data.active, by=who)
    audit.audit_record(
        uow,
        actor=who,
        action="staff_active",
        page=str(request.url.path),
        detail={"staff_id": staff_id, "active": data.active},
    )
    uow.commit()
    return account


@router.post("/{staff_id}/password-reset", response_model=StaffPasswordReset)
def reset_password(
    request: Request, response: Response, uow: UowDep, staff_id: IdPath, who: Admin
) -> StaffPasswordReset:
    """Reset a colleague's forgotten password (admin; not one's own): the one-time password
    comes back once and must be replaced at the next login; the lockout is lifted, the
    account's sessions and tokens end. Audited as ``staff_password_reset``."""
    account, one_time = service.staff_reset_password(
        uow, staff_id=staff_id, by=who, page=str(request.url.path)
    )
    uow.commit()
    response.headers["Cache-Control"] = "no-store"  # the password must not linger in a cache
    read = StaffRead.model_validate(account).model_dump()
    return StaffPasswordReset.model_validate({**read, "one_time_password": one_time})


@router.post("/{staff_id}/unlock", response_model=StaffRead)
def unlock(request: Request, uow: UowDep, staff_id: IdPath, who: Admin) -> StaffAccount:
    """Lift a lockout after repeated failed logins (admin). Audited as ``staff_unlock``."""
    account = service.staff_unlock(uow, staff_id=staff_id, by=who, page=str(request.url.path))
    uow.commit()
    return account


@router.post("/{staff_id}/role", response_model=StaffRead)
def set_role(
    request: Request, uow: UowDep, staff_id: IdPath, data: RoleSet, who: Admin
) -> StaffAccount:
    """Set an account's role and stores (admin; a store manager needs a store; an admin
    keeps their own role, and the last active admin stays one). Audited as ``staff_role``."""
    account = service.staff_set_role(
        uow,
        staff_id=staff_id,
        role=data.role,
        store_ids=data.store_ids,
        by=who,
        page=str(request.url.path),
    )
    uow.commit()
    return account


@audit_router.get("", response_model=list[AuditRead])
def list_audit(
    uow: UowDep,
    _who: Admin,
    actor: Annotated[
        str | None, Query(max_length=100, description="username, or cli for the command line")
    ] = None,
    action: Annotated[str | None, Query(max_length=50, description="e.g. staff_active")] = None,
    member_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[AwareTime | None, Query(description="from this time (with zone)")] = None,
    until: Annotated[AwareTime | None, Query(description="up to this time (with zone)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEvent]:
    """The audit trail (admin), newest first, as the /audit page searches it."""
    return audit.audit_search(
        uow,
        member_id=member_id,
        actor=actor or None,
        action=action or None,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
