"""The personal-list cycle: measure the cycles that ended, predict, generate, notify.

Runs daily; it generates only when no cycle covers the day, so lists come every
``cycle_days`` (14 by default) whatever the scheduler's rhythm. Receipts belong to sales
and predictions to analytics, both above offers: this job reads them and hands the
results to :func:`regulars.offers.lists.cycle_generate`.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select

from regulars.analytics.frames import LINES, require
from regulars.analytics.repurchase import REASONS, fit, history_from_lines
from regulars.core.config import get_settings
from regulars.core.crypto import get_cipher
from regulars.core.i18n import _, translate
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.members.models import Member
from regulars.members.queries import consenting_member_ids
from regulars.notify.service import outbox_enqueue
from regulars.offers import lists as offers_lists
from regulars.offers.candidates import Prediction
from regulars.offers.lists import CycleInput
from regulars.offers.models import ListCycle, PersonalList
from regulars.offers.service import settings_get
from regulars.sales.models import Receipt, ReceiptLine

log = logging.getLogger(__name__)

SUBJECT = _("Your personal shopping list")
BODY = _(
    "Your personal shopping list is ready: {items} offers, valid until {until}. "
    "Show code {code} or your member card at the till."
)
PURPOSE = "personal_list"
IN_LIMIT = 5000


def _local_midnight(day: date) -> datetime:
    zone = ZoneInfo(get_settings().timezone)
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def member_spend(uow: UnitOfWork, *, start: datetime, end: datetime) -> dict[int, Decimal]:
    """Each member's net spend (sales less returns) in [start, end)."""
    rows = uow.session.execute(
        select(Receipt.member_id, func.sum(Receipt.total))
        .where(
            Receipt.member_id.is_not(None),
            Receipt.occurred_at >= start,
            Receipt.occurred_at < end,
        )
        .group_by(Receipt.member_id)
    )
    return {int(m): Decimal(t or 0) for m, t in rows if m is not None}


def popular_products(
    uow: UnitOfWork, *, start: datetime, end: datetime, limit: int = 200
) -> list[int]:
    """Products by the number of members who bought them in [start, end), most first."""
    buyers = func.count(func.distinct(Receipt.member_id))
    rows = uow.session.execute(
        select(ReceiptLine.product_id, buyers)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(
            Receipt.member_id.is_not(None),
            Receipt.kind == "sale",
            Receipt.occurred_at >= start,
            Receipt.occurred_at < end,
        )
        .group_by(ReceiptLine.product_id)
        .order_by(buyers.desc(), ReceiptLine.product_id)
        .limit(limit)
    )
    return [int(p) for p, _n in rows]


def member_lines(uow: UnitOfWork, *, members: list[int], until: datetime) -> pl.DataFrame:
    """The receipt lines of ``members`` before ``until``, as the analytics ``LINES`` table.

    Read here rather than through ``analytics.extract`` because only the eligible members'
    histories are needed, and inside the job's own transaction.
    """
    query = select(
        Receipt.id,
        Receipt.member_id,
        Receipt.store_id,
        Receipt.occurred_at,
        ReceiptLine.product_id,
        ReceiptLine.quantity,
        ReceiptLine.amount,
    ).join(ReceiptLine, ReceiptLine.receipt_id == Receipt.id)
    query = query.where(Receipt.member_id.is_not(None), Receipt.occurred_at < until)
    # A long id list would pass SQLite's bound-parameter limit: then filter after reading.
    if len(members) <= IN_LIMIT:
        query = query.where(Receipt.member_id.in_(members))
    wanted = set(members)
    rows = [r for r in uow.session.execute(query) if r[1] in wanted]
    frame = pl.DataFrame(
        {
            "receipt_id": [r[0] for r in rows],
            "member_id": [r[1] for r in rows],
            "store_id": [r[2] for r in rows],
            "at": [r[3] for r in rows],
            "product_id": [r[4] for r in rows],
            "quantity": [float(r[5]) for r in rows],
            "amount": [float(r[6]) for r in rows],
            "cost": [None for _r in rows],
        },
        schema=dict(LINES),
    )
    return require(frame, LINES, "lines")


def predictions_for(
    uow: UnitOfWork, *, members: list[int], as_of: datetime, k: int
) -> tuple[list[Prediction], dict[str, Any]]:
    """Repurchase predictions for ``members`` from their whole history, and the run's info.

    A history too small to learn from gives no predictions (the lists then carry household
    and store offers only) and says why in the model info.
    """
    if not members:
        return [], {"members": 0}
    history = history_from_lines(member_lines(uow, members=members, until=as_of))
    day = (as_of.date() - date(1970, 1, 1)).days
    try:
        model = fit(history, as_of=day)
        frame = model.predict(members, k=k)
    except ValueError as exc:
        log.warning("repurchase model not fitted: %s", exc)
        return [], {"error": str(exc)[:200], "history_rows": history.height}
    out: list[Prediction] = []
    for row in frame.iter_rows(named=True):
        params = json.loads(row["reason_params"] or "{}")
        message = REASONS.get((row["reason_code"], frozenset(params)))
        if message is None:
            continue
        out.append(
            Prediction(
                member_id=int(row["user_id"]),
                product_id=int(row["item_id"]),
                score=float(row["score"]),
                expected_days=None if row["expected_days"] is None else float(row["expected_days"]),
                reason_code=str(row["reason_code"]),
                reason_message=message,
                reason_params=params,
            )
        )
    info = {
        "history_rows": history.height,
        "predictions": len(out),
        "weights": {k: round(v, 4) for k, v in model.weights_by_name().items()},
    }
    return out, info


def cycles_measure(uow: UnitOfWork, *, now: datetime) -> int:
    """Fill each ended cycle's spend before and during it, per list and control member."""
    measured = 0
    for cycle in uow.session.scalars(
        select(ListCycle).where(ListCycle.status == "open", ListCycle.valid_to <= now)
    ):
        length = cycle.valid_to - cycle.valid_from
        before = member_spend(uow, start=cycle.valid_from - length, end=cycle.valid_from)
        during = member_spend(uow, start=cycle.valid_from, end=cycle.valid_to)
        for row in uow.session.scalars(
            select(PersonalList).where(PersonalList.cycle_id == cycle.id)
        ):
            row.spend_before = before.get(row.member_id, Decimal("0"))
            row.spend_during = during.get(row.member_id, Decimal("0"))
        cycle.status = "measured"
        measured += 1
    uow.flush()
    return measured


def lists_notify(uow: UnitOfWork, *, cycle: ListCycle) -> dict[str, int]:
    """Tell each list member through the outbox, on a channel they consent to marketing on."""
    rows = list(
        uow.session.scalars(
            select(PersonalList).where(
                PersonalList.cycle_id == cycle.id,
                PersonalList.group == "list",
                PersonalList.notified.is_(False),
            )
        )
    )
    ids = [r.member_id for r in rows]
    by_sms = consenting_member_ids(uow.session, purpose="marketing", channel="sms", member_ids=ids)
    by_email = consenting_member_ids(
        uow.session, purpose="marketing", channel="email", member_ids=ids
    )
    cipher = get_cipher()
    counts = {"sent": 0, "no_consent": 0, "empty": 0}
    zone = ZoneInfo(get_settings().timezone)
    for row in rows:
        items = len(offers_lists.row_items(uow, row.id))
        if not items:
            counts["empty"] += 1
            continue
        member = uow.session.get(Member, row.member_id)
        if member is None:
            continue
        locale = str((member.extra or {}).get("locale") or "zh_CN")
        until = (row.valid_to.astimezone(zone) - timedelta(seconds=1)).date().isoformat()
        values = {"items": items, "until": until, "code": row.code}
        sent = False
        for channel, allowed, encrypted in (
            ("sms", by_sms, member.mobile_enc),
            ("email", by_email, member.email_enc),
        ):
            if sent or row.member_id not in allowed or not encrypted:
                continue
            recipient = cipher.decrypt(encrypted)
            if not recipient:
                continue
            outbox_enqueue(
                uow,
                channel=channel,
                recipient=recipient,
                subject=translate(SUBJECT, locale),
                body=translate(BODY, locale, **values),
                member_id=row.member_id,
                purpose=PURPOSE,
            )
            sent = True
        row.notified = sent
        counts["sent" if sent else "no_consent"] += 1
    uow.flush()
    return counts


def lists_cycle(uow: UnitOfWork, *, today: date, force: bool = False) -> dict[str, Any]:
    """The job: measure ended cycles, then generate and announce today's cycle if due."""
    now = utcnow()
    result: dict[str, Any] = {"measured": cycles_measure(uow, now=now)}
    settings = settings_get(uow)
    start = _local_midnight(today)
    covering = uow.session.scalars(
        select(ListCycle).where(ListCycle.valid_from <= start, ListCycle.valid_to > start)
    ).first()
    if covering is not None and not force:
        result["skipped"] = covering.starts_on.isoformat()
        return result
    window_start = start - timedelta(weeks=settings.window_weeks)
    spend = member_spend(uow, start=window_start, end=start)
    eligible_guess = [
        m for m, total in spend.items() if total / settings.window_weeks >= settings.threshold
    ]
    predictions, info = predictions_for(
        uow, members=eligible_guess, as_of=start, k=settings.list_length * 3
    )
    cycle = offers_lists.cycle_generate(
        uow,
        starts_on=today,
        data=CycleInput(
            spend=spend,
            predictions=predictions,
            popular=popular_products(uow, start=window_start, end=start),
            model="repurchase",
            model_info=info,
        ),
    )
    result.update(cycle=cycle.id, **cycle.outcome)
    if settings.notify:
        result["notified"] = lists_notify(uow, cycle=cycle)
    return result
