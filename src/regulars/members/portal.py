"""The member page's sign-in: one-time codes by SMS or email, and member sessions.

A member names themselves by mobile, email or member code; a six-digit code goes to
their mobile or email through the outbox (``regulars.notify``). Requesting a code behaves
the same whether or not the member exists, so the page cannot be used to find out who
shops here. Only a keyed hash of each code is stored; a code lives ten minutes, allows
five guesses and works once. A successful sign-in starts a server-side session (two
hours) whose id is the cookie and whose row holds the CSRF token of the member's forms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from regulars.core.crypto import get_cipher
from regulars.core.errors import Conflict, Unauthorized
from regulars.core.i18n import LOCALES, _, translate
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.members import rules, service
from regulars.members.models import Member, MemberOtp, MemberSession
from regulars.members.queries import (
    member_by_email,
    member_by_mobile,
    member_email,
    member_resolve,
)
from regulars.members.schemas import MemberUpdate
from regulars.notify.service import outbox_enqueue

OTP_MINUTES = 10
OTP_MAX_ATTEMPTS = 5
OTP_PER_HOUR = 5
SESSION_HOURS = 2
DEFAULT_LOCALE = "zh_CN"
_FAILED = _("the code is wrong or has expired; request a new one if needed")


def parse_identifier(raw: str) -> tuple[str, str]:
    """Tell what a member typed to sign in: ``("email" | "mobile" | "member_code", value)``.

    Values come back normalised (lower-case email, E.164 mobile); anything else raises
    ``InvalidInput`` naming the field ``identifier``.
    """
    text = raw.strip()
    if "@" in text:
        return "email", rules.normalise_email(text, field="identifier")
    if len(text) == 13 and text.isdigit() and text.startswith(rules.MEMBER_CODE_PREFIX):
        return "member_code", str(rules.parse_member_code(text, field="identifier"))
    return "mobile", rules.normalise_mobile(text, field="identifier")


def _recipient(uow: UnitOfWork, identifier: str) -> tuple[Member, str, str] | None:
    """The active member an identifier names, and the channel and address to reach them."""
    kind, value = parse_identifier(identifier)
    cipher = get_cipher()
    found: Member | None
    if kind == "email":
        found = member_by_email(uow.session, email=value)
    elif kind == "mobile":
        found = member_by_mobile(uow.session, mobile_e164=value)
    else:
        found = uow.session.get(Member, int(value))
    if found is None:
        return None
    member = member_resolve(uow.session, member_id=found.id)
    if member.status != "active":
        return None
    if kind == "email":
        return member, "email", value
    if kind == "mobile":
        return member, "sms", value
    mobile = cipher.decrypt(member.mobile_enc)
    if mobile:
        return member, "sms", mobile
    email = cipher.decrypt(member.email_enc)
    if email:
        return member, "email", email
    return None


def _code_hash(member_id: int, code: str) -> str:
    """Keyed hash of a code bound to its member: a stolen table does not reveal codes."""
    return get_cipher().blind_index(f"otp/{member_id}/{code}")


def member_locale(member: Member) -> str:
    """The language the member last used on the member page, else Chinese."""
    chosen = (member.extra or {}).get("locale")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def member_locale_set(uow: UnitOfWork, *, member: Member, locale: str) -> None:
    """Remember the member's language for the messages sent to them."""
    if locale in LOCALES and member_locale(member) != locale:
        member.extra = {**(member.extra or {}), "locale": locale}
        uow.flush()


def otp_request(uow: UnitOfWork, *, identifier: str) -> None:
    """Send a sign-in code to the member ``identifier`` names, through the outbox.

    Returns ``None`` whether or not such a member exists, and also when the member has
    already had ``OTP_PER_HOUR`` codes in the last hour, so the caller cannot tell the
    cases apart. A malformed identifier raises ``InvalidInput``.
    """
    found = _recipient(uow, identifier)
    if found is None:
        return None
    member, channel, recipient = found
    now = utcnow()
    if _codes_last_hour(uow, member.id) >= OTP_PER_HOUR:
        return None
    code = f"{secrets.randbelow(1_000_000):06d}"
    uow.session.add(
        MemberOtp(
            member_id=member.id,
            code_hash=_code_hash(member.id, code),
            channel=channel,
            created_at=now,
            expires_at=now + timedelta(minutes=OTP_MINUTES),
            attempts=0,
        )
    )
    locale = member_locale(member)
    body = translate(
        _("Your Regulars sign-in code is {code}. It expires in {minutes} minutes."),
        locale,
        code=code,
        minutes=OTP_MINUTES,
    )
    subject = translate(_("Your Regulars sign-in code"), locale) if channel == "email" else None
    outbox_enqueue(
        uow,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        member_id=member.id,
        purpose="otp",
    )
    return None


def otp_verify(uow: UnitOfWork, *, identifier: str, code: str) -> int:
    """Check a sign-in code and return the member id, or raise ``Unauthorized``.

    Only the member's newest code counts. A wrong guess is counted on it (the caller
    commits even on failure, so the count holds); after ``OTP_MAX_ATTEMPTS`` wrong
    guesses, once used or once expired, the code no longer works.
    """
    found = _recipient(uow, identifier)
    if found is None:
        raise Unauthorized(_FAILED, field="code")
    member = found[0]
    _code_use(uow, member_id=member.id, code=code, purpose="sign_in")
    return member.id


def _code_use(uow: UnitOfWork, *, member_id: int, code: str, purpose: str) -> MemberOtp:
    """Check ``code`` against the member's newest code for ``purpose`` and use it up.

    A wrong guess is counted (the caller commits even on failure, so the count holds);
    after ``OTP_MAX_ATTEMPTS`` wrong guesses, once used or once expired, the code no
    longer works. Raises ``Unauthorized`` naming the field ``code``.
    """
    otp = uow.session.scalars(
        select(MemberOtp)
        .where(MemberOtp.member_id == member_id, MemberOtp.purpose == purpose)
        .order_by(MemberOtp.created_at.desc(), MemberOtp.id.desc())
        .limit(1)
    ).first()
    now = utcnow()
    if (
        otp is None
        or otp.used_at is not None
        or otp.expires_at <= now
        or otp.attempts >= OTP_MAX_ATTEMPTS
    ):
        raise Unauthorized(_FAILED, field="code")
    if not hmac.compare_digest(otp.code_hash, _code_hash(member_id, code.strip())):
        # Counted in SQL so concurrent guesses cannot overwrite each other's count.
        uow.session.execute(
            update(MemberOtp)
            .where(MemberOtp.id == otp.id)
            .values(attempts=MemberOtp.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        uow.flush()
        raise Unauthorized(_FAILED, field="code")
    # Marked used only if still unused: of two concurrent correct answers one wins.
    result = uow.session.execute(
        update(MemberOtp)
        .where(
            MemberOtp.id == otp.id,
            MemberOtp.used_at.is_(None),
            MemberOtp.attempts < OTP_MAX_ATTEMPTS,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise Unauthorized(_FAILED, field="code")
    return otp


def _codes_last_hour(uow: UnitOfWork, member_id: int) -> int:
    """How many codes of any purpose the member was sent in the last hour."""
    since = utcnow() - timedelta(hours=1)
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(MemberOtp)
            .where(MemberOtp.member_id == member_id, MemberOtp.created_at > since)
        )
        or 0
    )


def email_change_request(uow: UnitOfWork, *, member: Member, email: str) -> bool:
    """Send a code to a new email address the member gave; change nothing yet.

    The address becomes the member's only when they type the code back
    (:func:`email_change_confirm`), so whoever holds a member's session cannot move the
    sign-in codes to an inbox of theirs. The old address, if any, is told. Returns
    ``False`` when the address is already the member's (nothing to confirm); an address
    in use by another member raises ``Conflict``, a malformed one ``InvalidInput``, too
    many codes in the last hour ``Unauthorized``.
    """
    address = rules.normalise_email(email)
    if member_email(member) == address:
        return False
    other = member_by_email(uow.session, email=address)
    if other is not None and other.id != member.id:
        raise Conflict(_("email address is already registered"), field="email")
    if _codes_last_hour(uow, member.id) >= OTP_PER_HOUR:
        raise Unauthorized(_("too many codes in the last hour; try again later"), field="email")
    cipher = get_cipher()
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = utcnow()
    uow.session.add(
        MemberOtp(
            member_id=member.id,
            code_hash=_code_hash(member.id, code),
            channel="email",
            purpose="email_change",
            target_enc=cipher.encrypt(address),
            created_at=now,
            expires_at=now + timedelta(minutes=OTP_MINUTES),
            attempts=0,
        )
    )
    locale = member_locale(member)
    outbox_enqueue(
        uow,
        channel="email",
        recipient=address,
        subject=translate(_("Confirm your new email address"), locale),
        body=translate(
            _(
                "Your code to confirm this address for your Regulars member page is {code}."
                " It expires in {minutes} minutes."
            ),
            locale,
            code=code,
            minutes=OTP_MINUTES,
        ),
        member_id=member.id,
        purpose="otp",
    )
    old = member_email(member)
    if old:
        outbox_enqueue(
            uow,
            channel="email",
            recipient=old,
            subject=translate(_("Your member page email is being changed"), locale),
            body=translate(
                _(
                    "Someone signed in to your member page asked to use {masked} for your"
                    " email. If it was not you, tell the service desk."
                ),
                locale,
                masked=rules.mask_email(address),
            ),
            member_id=member.id,
            purpose="notice",
        )
    uow.flush()
    return True


def email_change_pending(uow: UnitOfWork, *, member_id: int) -> str | None:
    """The masked new address waiting for its code, if one is (unused and unexpired)."""
    otp = uow.session.scalars(
        select(MemberOtp)
        .where(MemberOtp.member_id == member_id, MemberOtp.purpose == "email_change")
        .order_by(MemberOtp.created_at.desc(), MemberOtp.id.desc())
        .limit(1)
    ).first()
    if otp is None or otp.used_at is not None or otp.expires_at <= utcnow():
        return None
    if otp.attempts >= OTP_MAX_ATTEMPTS:
        return None
    address = get_cipher().decrypt(otp.target_enc)
    return rules.mask_email(address) if address else None


def email_change_confirm(uow: UnitOfWork, *, member_id: int, code: str) -> str:
    """Check the code sent to the new address and make that address the member's."""
    otp = _code_use(uow, member_id=member_id, code=code, purpose="email_change")
    address = get_cipher().decrypt(otp.target_enc)
    if not address:
        raise Unauthorized(_FAILED, field="code")
    service.member_update(uow, member_id=member_id, data=MemberUpdate(email=address))
    return address


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def member_session_create(uow: UnitOfWork, *, member_id: int) -> tuple[str, MemberSession]:
    """Start a member-page session; returns the cookie value (never stored) and the row."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    row = MemberSession(
        member_id=member_id,
        session_hash=_session_hash(session_id),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    uow.session.add(row)
    uow.flush()
    return session_id, row


def member_session_find(uow: UnitOfWork, *, session_id: str) -> tuple[MemberSession, Member] | None:
    """The live session and its (active) member for a cookie value, or ``None``."""
    row = uow.session.execute(
        select(MemberSession, Member)
        .join(Member, Member.id == MemberSession.member_id)
        .where(MemberSession.session_hash == _session_hash(session_id))
    ).first()
    if row is None:
        return None
    session, member = row[0], row[1]
    if session.expires_at <= utcnow() or member.status != "active":
        return None
    return session, member


def member_session_end(uow: UnitOfWork, *, session_id: str) -> None:
    """End a member-page session (sign-out)."""
    uow.session.execute(
        delete(MemberSession).where(MemberSession.session_hash == _session_hash(session_id))
    )


def portal_purge(uow: UnitOfWork) -> int:
    """Delete expired sessions and codes older than a day; returns how many rows went."""
    now = utcnow()
    gone = 0
    for statement in (
        delete(MemberSession).where(MemberSession.expires_at <= now),
        delete(MemberOtp).where(MemberOtp.created_at <= now - timedelta(days=1)),
    ):
        result = uow.session.execute(statement)
        gone += int(getattr(result, "rowcount", 0) or 0)
    return gone
