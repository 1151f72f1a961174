"""Pure rules of the members domain: mobile numbers, member codes, consent vocabulary."""

from __future__ import annotations

import re

import phonenumbers
from stdnum import ean

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _

PURPOSES = ("marketing", "analytics", "personalised_offers")
CHANNELS = ("sms", "email", "wechat", "post")
GENDERS = ("female", "male", "other", "unknown")
# In-store numbering range of GS1 (prefix 20-29): member codes never collide with products.
MEMBER_CODE_PREFIX = "29"


def normalise_mobile(raw: str, *, field: str = "mobile") -> str:
    """Return a mobile number in E.164 form, or raise ``InvalidInput`` naming ``field``.

    Mainland numbers may be given as 11 digits (``13812341234``); any other number must
    be in E.164 with its ``+`` and country code. ``phonenumbers`` knows the valid ranges.
    """
    text = "".join(ch for ch in raw.strip() if ch not in " -()")
    region = None if text.startswith("+") else "CN"
    if region == "CN" and not (len(text) == 11 and text.isdigit() and text.startswith("1")):
        raise InvalidInput(_("{value} is not a mainland mobile number"), field=field, value=raw)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(_("{value} is not a mobile number"), field=field, value=raw) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(_("{value} is not a mobile number"), field=field, value=raw)
    kind = phonenumbers.number_type(parsed)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidInput(_("{value} is not a mobile number"), field=field, value=raw)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def mask_mobile(e164: str) -> str:
    """Mask a mobile number for display: ``+8613812341234`` becomes ``138****1234``."""
    national = e164[3:] if e164.startswith("+86") else e164
    if len(national) < 8:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


def member_code(member_id: int) -> str:
    """The EAN-13 member code printed on cards and lists: prefix 29, id, check digit."""
    body = f"{MEMBER_CODE_PREFIX}{member_id:010d}"
    return body + ean.calc_check_digit(body)


def parse_member_code(code: str, *, field: str = "member_code") -> int:
    """Return the member id in a scanned member code, or raise ``InvalidInput``."""
    text = code.strip()
    if not (len(text) == 13 and text.isdigit() and text.startswith(MEMBER_CODE_PREFIX)):
        raise InvalidInput(_("{value} is not a member code"), field=field, value=code)
    if not ean.is_valid(text):
        raise InvalidInput(_("{value} has a wrong check digit"), field=field, value=code)
    return int(text[2:12])


# Practical address syntax (RFC 5321 lengths, dotted domain); delivery is what proves it.
_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{4,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def normalise_email(raw: str, *, field: str = "email") -> str:
    """Return an email address trimmed and lower-cased, or raise ``InvalidInput``."""
    text = raw.strip().lower()
    if len(text) > 254 or not _EMAIL.match(text) or ".." in text:
        raise InvalidInput(_("{value} is not an email address"), field=field, value=raw)
    return text


def mask_email(email: str) -> str:
    """Mask an address for display: ``zhang@example.com`` becomes ``z***@example.com``."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
