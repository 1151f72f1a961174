"""Coupons at the till: each code validated and redeemed in the receipt's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update

from regulars.core.db import UTCDateTime
from regulars.core.errors import Conflict, InvalidInput, RuleViolation
from regulars.core.i18n import _
from regulars.core.templating import local_time
from regulars.core.uow import UnitOfWork
from regulars.loyalty import rules
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.statements import table_of

COUPON = table_of(MemberCoupon)
_FIND = select(
    COUPON.c.id,
    COUPON.c.code,
    COUPON.c.member_id,
    COUPON.c.kind,
    COUPON.c.title,
    COUPON.c.value,
    COUPON.c.max_discount,
    COUPON.c.min_spend,
    COUPON.c.valid_from,
    COUPON.c.valid_to,
    COUPON.c.status,
).where(COUPON.c.code.in_(bindparam("codes", expanding=True)))
# Conditional: of two tills redeeming one coupon at once, the second finds it no longer
# ``issued`` once the first commits (PostgreSQL re-checks the row it waited for).
_REDEEM = (
    update(COUPON)
    .where(COUPON.c.id == bindparam("coupon_id"), COUPON.c.status == "issued")
    .values(
        status="redeemed",
        redeemed_at=bindparam("at", type_=UTCDateTime()),
        receipt_id=bindparam("receipt"),
        discount=bindparam("off", type_=COUPON.c.discount.type),
    )
    .returning(COUPON.c.id)
)


def _day(moment: datetime) -> str:
    return local_time(moment, "%Y-%m-%d")


def coupons_apply(
    uow: UnitOfWork,
    *,
    member_id: int,
    codes: Sequence[str],
    receipt_id: int,
    goods: Decimal,
    payable: Decimal,
    at: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """Redeem the receipt's coupons in its transaction; each given discount, or a 4xx.

    Each code (as typed or scanned) must be a coupon of this member, unused, valid at
    ``at`` (when the receipt was rung up, so a till replaying after an outage is judged
    by the moment of the sale) and its minimum spend met by ``goods``. A discount never
    exceeds what is left to pay. The error names the code's place (``coupons[1]``).
    """
    wanted = [rules.coupon_code_normalise(code) for code in codes]
    for index, code in enumerate(wanted):
        if code in wanted[:index]:
            raise InvalidInput(
                _("coupon {code} is given twice"),
                field=f"coupons[{index}]",
                code=rules.coupon_code_display(code),
            )
    conn = uow.session.connection()
    found = {row.code: row for row in conn.execute(_FIND, {"codes": wanted})}
    applied: list[dict[str, Any]] = []
    left = payable
    for index, code in enumerate(wanted):
        field, shown = f"coupons[{index}]", rules.coupon_code_display(code)
        row = found.get(code)
        if row is None or row.member_id != member_id:
            raise InvalidInput(_("{code} is not a coupon of this member"), field=field, code=shown)
        if row.status == "void":
            raise RuleViolation(_("coupon {code} is void"), field=field, code=shown)
        if row.status == "redeemed":
            raise Conflict(_("coupon {code} was already used"), field=field, code=shown)
        if row.status == "expired" or at >= row.valid_to:
            raise RuleViolation(
                _("coupon {code} expired on {date}"),
                field=field,
                code=shown,
                date=_day(row.valid_to - timedelta(seconds=1)),
            )
        if at < row.valid_from:
            raise RuleViolation(
                _("coupon {code} is valid from {date}"),
                field=field,
                code=shown,
                date=_day(row.valid_from),
            )
        if goods < row.min_spend:
            raise RuleViolation(
                _("coupon {code} needs a spend of at least {min_spend}; the goods come to {goods}"),
                field=field,
                code=shown,
                min_spend=row.min_spend,
                goods=goods,
            )
        discount = rules.coupon_discount(
            row.kind, row.value, row.max_discount, goods=goods, payable=left
        )
        taken = conn.execute(
            _REDEEM, {"coupon_id": row.id, "at": now, "receipt": receipt_id, "off": discount}
        ).first()
        if taken is None:
            raise Conflict(_("coupon {code} was already used"), field=field, code=shown)
        left -= discount
        applied.append(
            {"code": code, "kind": row.kind, "title": row.title, "discount": str(discount)}
        )
    for obj in list(uow.session.identity_map.values()):
        if isinstance(obj, MemberCoupon):
            uow.session.expire(obj)  # changed underneath by the Core updates above
    return applied


__all__ = ["coupons_apply"]
