"""Staff accounts, password checks with lockout, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select

from regulars.core.errors import Conflict, InvalidInput, NotFound, RuleViolation, Unauthorized
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.staff import rules, sessions
from regulars.staff.models import StaffAccount, StaffToken
from regulars.staff.schemas import StaffCreate

_hasher = PasswordHasher()
MIN_PASSWORD = 10


def staff_create(uow: UnitOfWork, *, data: StaffCreate) -> tuple[StaffAccount, str | None]:
    """Create an account; returns it and the one-time password when one was generated."""
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
        store_ids=data.store_ids,
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
    uow: UnitOfWork, *, account: StaffAccount, current: str, new: str
) -> None:
    """Change a password after checking the current one; other sessions end."""
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
        admins = uow.session.scalar(
            select(func.count())
            .select_from(StaffAccount)
            .where(StaffAccount.role == "admin", StaffAccount.active.is_(True))
        )
        if (admins or 0) <= 1:
            raise RuleViolation(
                _("the last active administrator cannot be disabled"), field="active"
            )
    account.active = active
    if not active:
        sessions.sessions_end_for(uow, staff_id=account.id)
        uow.session.execute(delete(StaffToken).where(StaffToken.staff_id == account.id))
    uow.flush()
    return account
