"""Staff accounts, password checks with lockout, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError
from sqlalchemy import Integer, column, delete, select, table

from regulars.core.errors import Conflict, InvalidInput, NotFound, RuleViolation, Unauthorized
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.staff import audit, rules, sessions
from regulars.staff.models import StaffAccount, StaffSession, StaffToken
from regulars.staff.schemas import StaffCreate

_hasher = PasswordHasher()
MIN_PASSWORD = 10
# The catalogue's store table, named rather than imported: the catalogue sits above staff in
# the layers, and an account's stores only need checking for existence.
_STORE = table("store", column("id", Integer))


def staff_create(uow: UnitOfWork, *, data: StaffCreate) -> tuple[StaffAccount, str | None]:
    """Create an account; returns it and the one-time password when one was generated.

    Its stores are checked as ``staff_set_role`` checks them (each must exist, and a store
    manager needs at least one): otherwise an account refused a role later could be
    created with it, and a store manager without a store sees no receipts.
    """
    stores = _checked_stores(uow, role=data.role, store_ids=data.store_ids)
    if uow.session.scalars(
        select(StaffAccount.id).where(StaffAccount.username == data.username)
    ).first():
        raise Conflict(_("username {username} is taken"), field="username", username=data.username)
    one_time = None if data.password else secrets.token_urlsafe(12)
    password = data.password or one_time or ""
    account = StaffAccount(
        username=data.username,
        display_name=data.display_name,
        role=data.role,
        store_ids=stores,
        locale=data.locale,
        password_hash=_hasher.hash(password),
        must_change_password=one_time is not None,
        failed_logins=0,
        active=True,
    )
    uow.session.add(account)
    uow.flush()
    return account, one_time


def staff_authenticate(uow: UnitOfWork, *, username: str, password: str) -> StaffAccount:
    """Check a password; repeated failures lock the account for a while."""
    account = uow.session.scalars(
        select(StaffAccount).where(StaffAccount.username == username)
    ).first()
    now = utcnow()
    if account is None or not account.active:
        _hasher.hash(password)  # same work either way, so timing does not reveal usernames
        raise Unauthorized(_("wrong username or password"))
    if account.locked_until is not None and account.locked_until > now:
        raise Unauthorized(_("account locked after repeated failures; try again later"))
    try:
        _hasher.verify(account.password_hash, password)
    except (VerifyMismatchError, VerificationError) as exc:
        account.failed_logins += 1
        if account.failed_logins >= rules.MAX_FAILED_LOGINS:
            account.locked_until = now + timedelta(minutes=rules.LOCKOUT_MINUTES)
            account.failed_logins = 0
        uow.flush()
        raise Unauthorized(_("wrong username or password")) from exc
    account.failed_logins = 0
    account.locked_until = None
    uow.flush()
    return account


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_issue(uow: UnitOfWork, *, account: StaffAccount) -> tuple[str, StaffToken]:
    """Issue a bearer token for the staff API (stored hashed)."""
    token = "rgs_" + secrets.token_urlsafe(32)
    row = StaffToken(
        staff_id=account.id,
        token_hash=_token_hash(token),
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(hours=rules.TOKEN_HOURS),
    )
    uow.session.add(row)
    uow.flush()
    return token, row


def token_verify(uow: UnitOfWork, *, token: str) -> StaffAccount:
    """Return the account behind a valid, unexpired token."""
    row = uow.session.execute(
        select(StaffToken, StaffAccount)
        .join(StaffAccount, StaffAccount.id == StaffToken.staff_id)
        .where(StaffToken.token_hash == _token_hash(token))
    ).first()
    if row is None:
        raise Unauthorized(_("invalid or expired token"))
    stored, account = row[0], row[1]
    if stored.expires_at <= utcnow() or not account.active:
        raise Unauthorized(_("invalid or expired token"))
    return account


def staff_ensure_admin(uow: UnitOfWork) -> str | None:
    """Create the first admin account if there is none; returns its one-time password."""
    exists = uow.session.scalars(
        select(StaffAccount.id).where(StaffAccount.role == "admin")
    ).first()
    if exists is not None:
        return None
    _account, one_time = staff_create(
        uow, data=StaffCreate(username="admin", display_name="Administrator", role="admin")
    )
    return one_time


def staff_list(uow: UnitOfWork) -> list[StaffAccount]:
    """All staff accounts by username."""
    return list(uow.session.scalars(select(StaffAccount).order_by(StaffAccount.username)))


def staff_change_password(
    uow: UnitOfWork,
    *,
    account: StaffAccount,
    current: str,
    new: str,
    keep_session: StaffSession | None = None,
) -> None:
    """Change a password after checking the current one.

    The account's other browser sessions end and its API tokens are deleted: a password
    is often changed because the old one got out, and whoever used it must be locked out
    too, not just kept from logging in again. ``keep_session``, the session that asked,
    stays, so the staff member is not logged out by their own change.
    """
    try:
        _hasher.verify(account.password_hash, current)
    except (VerifyMismatchError, VerificationError) as exc:
        raise Unauthorized(_("the current password is wrong"), field="current_password") from exc
    if len(new) < MIN_PASSWORD or new == current:
        raise InvalidInput(
            _("the new password needs at least {n} characters and must differ"),
            field="new_password",
            n=MIN_PASSWORD,
        )
    account.password_hash = _hasher.hash(new)
    account.must_change_password = False
    _end_access(uow, account=account, keep=keep_session)
    uow.flush()


def staff_set_locale(uow: UnitOfWork, *, account: StaffAccount, locale: str) -> None:
    """Remember the language an account works in."""
    account.locale = "zh_CN" if locale == "zh_CN" else "en"
    uow.flush()


def staff_get(uow: UnitOfWork, *, staff_id: int) -> StaffAccount:
    """An account by id, or ``NotFound``."""
    account = uow.session.get(StaffAccount, staff_id)
    if account is None:
        raise NotFound(_("staff account {id} not found"), field="staff_id", id=staff_id)
    return account


def staff_by_username(uow: UnitOfWork, *, username: str) -> StaffAccount:
    """An account by username, or ``NotFound`` naming ``username``."""
    account = uow.session.scalars(
        select(StaffAccount).where(StaffAccount.username == username)
    ).first()
    if account is None:
        raise NotFound(_("staff account {username} not found"), field="username", username=username)
    return account


def staff_set_active(
    uow: UnitOfWork, *, staff_id: int, active: bool, by: StaffAccount | None = None
) -> StaffAccount:
    """Enable or disable an account; a disabled account's sessions end and its API tokens
    are deleted (enabling it again does not bring them back: it logs in anew). ``by``, the
    staff member asking (none from the command line), may not disable their own account:
    the staff page offers no such button, and an admin who did would lock themselves out.
    Nor may the last active administrator be disabled, from anywhere."""
    if by is not None and by.id == staff_id and not active:
        raise RuleViolation(_("you cannot disable your own account"), field="active")
    account = staff_get(uow, staff_id=staff_id)
    if not active and account.active and account.role == "admin":
        _keep_an_admin(uow, field="active")
    account.active = active
    if not active:
        _end_access(uow, account=account)
    uow.flush()
    return account


def _keep_an_admin(uow: UnitOfWork, *, field: str) -> None:
    """Refuse to take away the last active administrator: nobody could manage staff then.

    The active admins' rows are locked (on PostgreSQL) until the transaction ends, so two
    admins demoting or disabling each other at once cannot both see the other still there.
    """
    admins = uow.session.scalars(
        select(StaffAccount.id)
        .where(StaffAccount.role == "admin", StaffAccount.active.is_(True))
        .with_for_update()
    ).all()
    if len(admins) <= 1:
        message = (
            _("the last active administrator cannot be disabled")
            if field == "active"
            else _("the last active administrator must stay an administrator")
        )
        raise RuleViolation(message, field=field)


def _end_access(
    uow: UnitOfWork, *, account: StaffAccount, keep: StaffSession | None = None
) -> None:
    """End an account's browser sessions (but ``keep``) and delete its API tokens."""
    sessions.sessions_end_for(uow, staff_id=account.id, keep=keep.id if keep else None)
    uow.session.execute(delete(StaffToken).where(StaffToken.staff_id == account.id))


def _actor(by: StaffAccount | None) -> StaffAccount | str:
    """Who the audit trail names: the admin asking, or ``cli`` for the command line."""
    return by if by is not None else "cli"


def staff_reset_password(
    uow: UnitOfWork, *, staff_id: int, by: StaffAccount | None = None, page: str = "cli"
) -> tuple[StaffAccount, str]:
    """Give a colleague who forgot their password a one-time one; returns the account and
    the password, to be shown once (only its hash is kept).

    They must replace it at their next login, as after their account was made. The lockout
    is lifted too, or they could not use it for a while; their sessions end and their API
    tokens are deleted, since a reset often means the old password got out. An admin may
    not reset their own: the password page asks for the current one, and a reset here
    would let whoever holds a stolen session take the account over. Audited as
    ``staff_password_reset`` by ``by`` (``cli`` when none) on ``page``, never the password:
    here rather than at each entrypoint, so the page, the API and the CLI record alike.
    """
    if by is not None and by.id == staff_id:
        raise RuleViolation(_("change your own password on the password page"), field="staff_id")
    account = staff_get(uow, staff_id=staff_id)
    one_time = secrets.token_urlsafe(12)
    account.password_hash = _hasher.hash(one_time)
    account.must_change_password = True
    account.failed_logins = 0
    account.locked_until = None
    _end_access(uow, account=account)
    uow.flush()
    audit.audit_record(
        uow,
        actor=_actor(by),
        action="staff_password_reset",
        page=page,
        detail={"staff_id": account.id, "username": account.username},
    )
    return account, one_time


def staff_is_locked(account: StaffAccount) -> bool:
    """Tell whether repeated failed logins lock the account right now."""
    return account.locked_until is not None and account.locked_until > utcnow()


def staff_unlock(
    uow: UnitOfWork, *, staff_id: int, by: StaffAccount | None = None, page: str = "cli"
) -> StaffAccount:
    """Lift a lockout after repeated failed logins now instead of when it runs out, and
    forget the failures counted so far. Sessions are left alone: unlocking grants nothing
    new. Audited as ``staff_unlock``, saying whether the account was locked."""
    account = staff_get(uow, staff_id=staff_id)
    was_locked = staff_is_locked(account)
    account.failed_logins = 0
    account.locked_until = None
    uow.flush()
    audit.audit_record(
        uow,
        actor=_actor(by),
        action="staff_unlock",
        page=page,
        detail={"staff_id": account.id, "username": account.username, "was_locked": was_locked},
    )
    return account


def _checked_stores(uow: UnitOfWork, *, role: str, store_ids: Sequence[int]) -> list[int]:
    """An account's stores without repeats, each an existing store; a store manager needs
    at least one (``rules.needs_store``). Shared by creation and role changes, so no
    entrypoint makes an account that the other would refuse."""
    stores = list(dict.fromkeys(store_ids))
    bad = [i for i in stores if not 1 <= i <= MAX_ID]
    if bad:
        ids = ", ".join(str(i) for i in bad)
        raise InvalidInput(_("no store with id {ids}"), field="store_ids", ids=ids)
    known: set[int] = set(uow.session.scalars(select(_STORE.c.id).where(_STORE.c.id.in_(stores))))
    unknown = [i for i in stores if i not in known]
    if unknown:
        ids = ", ".join(str(i) for i in unknown)
        raise InvalidInput(_("no store with id {ids}"), field="store_ids", ids=ids)
    if rules.needs_store(role) and not stores:
        raise RuleViolation(_("a store manager needs at least one store"), field="store_ids")
    return stores


def staff_set_role(
    uow: UnitOfWork,
    *,
    staff_id: int,
    role: str,
    store_ids: Sequence[int],
    by: StaffAccount | None = None,
    page: str = "cli",
) -> StaffAccount:
    """Give an account a role and its stores (the stores a store manager works in).

    The role must be one of ``rules.ROLES`` and every store must exist; a store manager
    needs at least one (``rules.needs_store``). An admin may not take the role from their
    own account, nor may the last active administrator lose it, from anywhere. Sessions
    and tokens carry on: every request reads the role afresh, so the new one applies at
    once. Audited as ``staff_role`` with the role and stores before and after.
    """
    if role not in rules.ROLES:
        raise InvalidInput(_("unknown role {role}"), field="role", role=role)
    stores = _checked_stores(uow, role=role, store_ids=store_ids)
    if by is not None and by.id == staff_id and role != "admin":
        raise RuleViolation(
            _("you cannot take the administrator role from your own account"), field="role"
        )
    account = staff_get(uow, staff_id=staff_id)
    if account.role == "admin" and role != "admin" and account.active:
        _keep_an_admin(uow, field="role")
    before = {"role": account.role, "store_ids": list(account.store_ids or [])}
    account.role = role
    account.store_ids = stores
    uow.flush()
    audit.audit_record(
        uow,
        actor=_actor(by),
        action="staff_role",
        page=page,
        detail={
            "staff_id": account.id,
            "username": account.username,
            "role": role,
            "store_ids": stores,
            "before": before,
        },
    )
    return account
