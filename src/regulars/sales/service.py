"""Writes of the sales domain: receipts and returns, each recorded exactly once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    Row,
    Select,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key

from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.queries import Coded, barcode_ids, barcodes_column, products_by_keys
from regulars.catalog.service import product_placeholder
from regulars.core.errors import Conflict, DomainError, InvalidInput, NotFound, RuleViolation
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import service as loyalty
from regulars.members.models import Member
from regulars.members.queries import (
    TillMember,
    TillMemberQuery,
    member_for_till,
    member_resolve,
)
from regulars.offers import redeem as offers
from regulars.sales.content import (
    TILL,
    Content,
    ReturnContent,
    cents,
    milli,
    stored_contents,
    stored_return,
)
from regulars.sales.models import Receipt, ReceiptLine
from regulars.sales.queries import TILL_OF_RECEIPT
from regulars.sales.schemas import MemberRef, ReceiptAnswer, ReceiptIn, ReturnIn

CENT = Decimal("0.01")
LINE_TABLE = ReceiptLine.metadata.tables[ReceiptLine.__tablename__]
RECEIPT_TABLE = Receipt.metadata.tables[Receipt.__tablename__]
MEMBER_TABLE = Member.metadata.tables[Member.__tablename__]
PRODUCT_TABLE = Product.metadata.tables[Product.__tablename__]
#: A store or a terminal: the ORM row, or its id and code (what the till key check returns).
Place = Store | Terminal | Coded


@dataclass(frozen=True)
class Recorded:
    """The answer to a till and whether it is a replay of an earlier identical request."""

    answer: dict[str, Any]
    replayed: bool


def content_hash(payload: dict[str, Any]) -> str:
    """Hash of a request's canonical JSON, to tell a replay from a conflicting reuse."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _existing(uow: UnitOfWork, store_id: int, terminal_id: int, receipt_no: str) -> Row[Any] | None:
    """The stored receipt with this key (what a replay needs to be answered), if any."""
    return uow.session.execute(
        select(
            RECEIPT_TABLE.c.id,
            RECEIPT_TABLE.c.receipt_no,
            RECEIPT_TABLE.c.content_hash,
            RECEIPT_TABLE.c.response,
            RECEIPT_TABLE.c.source,
            RECEIPT_TABLE.c.kind,
            RECEIPT_TABLE.c.member_id,
            RECEIPT_TABLE.c.total,
            RECEIPT_TABLE.c.line_count,
            RECEIPT_TABLE.c.recorded_at,
        ).where(
            RECEIPT_TABLE.c.store_id == store_id,
            RECEIPT_TABLE.c.terminal_id == terminal_id,
            RECEIPT_TABLE.c.receipt_no == receipt_no,
        )
    ).first()


def _replay(
    uow: UnitOfWork,
    existing: Row[Any],
    digest: str,
    places: tuple[Place, Place],
    content: Callable[[], Content | ReturnContent | None] | None = None,
    source: str = TILL,
) -> Recorded:
    """The first answer for an identical replay; 409 for the same key with other content.

    A receipt that came in the other way (from a file for a till's request, from a till
    for a file's) has the other side's hash (:mod:`regulars.sales.content`): with
    ``content`` (the request's, once its member and products are known) it is compared
    as stored instead, and the same checkout or return is answered as a replay.
    """
    same = existing.content_hash == digest
    if not same and content is not None and (existing.source == TILL) != (source == TILL):
        stored: Content | ReturnContent | None = (
            stored_return(uow, existing.id)
            if existing.kind == "return"
            else stored_contents(uow, [existing.id]).get(existing.id)
        )
        same = stored is not None and stored == content()
    if not same:
        raise Conflict(
            _("receipt {receipt_no} was already recorded with different content"),
            field="receipt_no",
            receipt_no=existing.receipt_no,
        )
    stored_answer = existing.response
    if not stored_answer:
        # An imported receipt keeps no answer (it never had a till to answer): the same
        # fields, from its row.
        store, terminal = places
        stored_answer = _stored_answer(
            kind=existing.kind,
            store=store,
            terminal=terminal,
            receipt_no=existing.receipt_no,
            member_id=existing.member_id,
            total=existing.total,
            line_count=existing.line_count,
            recorded_at=existing.recorded_at,
        )
    return Recorded(answer=_with_id(stored_answer, existing.id), replayed=True)


def _stored_answer(
    *,
    kind: str,
    store: Place,
    terminal: Place,
    receipt_no: str,
    member_id: int | None,
    total: Decimal,
    line_count: int,
    recorded_at: datetime,
) -> dict[str, Any]:
    """The till's answer as kept on the receipt row: everything but ``receipt_id``.

    The id exists only once the row is inserted; leaving it out of the stored answer lets
    one INSERT write the row (rather than an INSERT and an UPDATE per receipt).
    :func:`_with_id` adds it back, for the first answer and every replay alike.
    """
    return {
        "kind": kind,
        "store": store.code,
        "terminal": terminal.code,
        "receipt_no": receipt_no,
        "member_id": member_id,
        "total": str(total),
        "line_count": line_count,
        "recorded_at": recorded_at.isoformat(),
    }


def _with_id(stored: dict[str, Any], receipt_id: int) -> dict[str, Any]:
    """The answer a till gets: the stored answer with the receipt's id."""
    return ReceiptAnswer.model_validate({**stored, "receipt_id": receipt_id}).model_dump(
        mode="json"
    )


_KEY = ["store_id", "terminal_id", "receipt_no"]
_LINE_COLUMNS = ("line_no", "product_id", "quantity", "unit_price", "discount", "amount")
#: Scaled-integer columns of a line: their bind processors (Decimal → int) on PostgreSQL.
_SCALED_LINE = ("quantity", "unit_price", "discount", "amount")
_LINE_PROCESSORS: list[tuple[Any, ...]] = []


def _lines_json(lines: list[dict[str, Any]], *, with_barcode: bool = False) -> str:
    """The lines as :func:`_receipt_with_lines_pg` reads them: one JSON array of objects,
    each amount as the column stores it (scaled integers); ``with_barcode`` adds each
    line's barcode instead of its product (:func:`_anonymous_sale_pg`)."""
    if not _LINE_PROCESSORS:
        pg = postgresql.dialect()  # type: ignore[no-untyped-call]
        _LINE_PROCESSORS.append(
            tuple(LINE_TABLE.c[n].type.bind_processor(pg) for n in _SCALED_LINE)
        )
    q, up, d, a = _LINE_PROCESSORS[0]
    key = "barcode" if with_barcode else "product_id"
    return json.dumps(
        [
            {
                "line_no": line["line_no"],
                key: line[key],
                "quantity": q(line["quantity"]),
                "unit_price": up(line["unit_price"]),
                "discount": d(line["discount"]),
                "amount": a(line["amount"]),
            }
            for line in lines
        ]
    )


_RECEIPT_COLUMNS = (
    "store_id",
    "terminal_id",
    "receipt_no",
    "kind",
    "occurred_at",
    "cashier",
    "member_id",
    "original_receipt_id",
    "total",
    "discount_total",
    "line_count",
    "payments",
    "content_hash",
    "response",
    "source",
    "recorded_at",
)


def _receipt_with_lines_pg(first_purchase: bool = False, points: bool = False) -> Select[Any]:
    """One PostgreSQL statement inserting a receipt and its lines, returning the new id.

    A data-modifying CTE inserts the receipt (``ON CONFLICT DO NOTHING``); the lines come
    from ``json_to_recordset`` of one JSON parameter joined to the new id, so when the key
    exists (no new row) no line is inserted either. The JSON keeps the statement the same
    whatever the number of lines, so SQLAlchemy compiles it once and psycopg prepares it. The
    receipt's parameters are named ``r_<column>``: SQLAlchemy would read a parameter named
    like a column of a table that a nested ``UPDATE`` changes as a value to set.

    With ``first_purchase`` a third CTE moves the member's first purchase to this receipt
    when it is earlier (see :func:`_note_first_purchase`), again only if the row is new.

    With ``points`` the statement also writes the member's points that loyalty worked out
    beforehand (:func:`loyalty.receipt_plan`; its CTEs, :func:`loyalty.receipt_writes`,
    write only if the receipt is new), and the stored answer carries them: its balance and
    pending points are built in SQL from the member's points before the statement, which
    the statement also returns (``pending``, ``expired``).
    """
    values: dict[str, Any] = {
        name: bindparam(f"r_{name}", type_=RECEIPT_TABLE.c[name].type) for name in _RECEIPT_COLUMNS
    }
    pending_before, expired_before = loyalty.points_before()
    if points:
        pending = pending_before + bindparam("answer_add_pending", type_=Integer())
        fields = func.jsonb_build_object(
            literal("balance"),
            bindparam("answer_balance", type_=Integer()) - pending - expired_before,
            literal("pending"),
            pending,
        )
        known = cast(bindparam("answer_known", type_=Text()), postgresql.JSONB)
        values["response"] = cast(known.op("||")(fields), JSON)
    head = (
        postgresql.insert(RECEIPT_TABLE)
        .values(values)
        .on_conflict_do_nothing(index_elements=_KEY)
        .returning(RECEIPT_TABLE.c.id)
        .cte("new_receipt")
    )
    # One JSON parameter for all lines (``_lines_json``), not an array per column: psycopg
    # inspects and quotes array parameters element by element. (Its name is not
    # ``lines_json``: loyalty's ledger lines, written by the same statement, use that.)
    arrays = (
        func.json_to_recordset(cast(bindparam("receipt_lines_json", type_=Text()), postgresql.JSON))
        .table_valued(*(column(name, LINE_TABLE.c[name].type) for name in _LINE_COLUMNS))
        .render_derived(name="line", with_types=True)
    )
    lines = insert(LINE_TABLE).from_select(
        ["receipt_id", *_LINE_COLUMNS],
        select(head.c.id, *(arrays.c[name] for name in _LINE_COLUMNS)).join_from(
            head, arrays, true()
        ),
    )
    statement = select(head.c.id).add_cte(lines.cte("new_lines"))
    if points:
        statement = select(
            head.c.id, pending_before.label("pending"), expired_before.label("expired")
        ).add_cte(lines.cte("new_lines"), *loyalty.receipt_writes(head))
    if not first_purchase:
        return statement
    when = bindparam("first_at", type_=MEMBER_TABLE.c.first_purchase_at.type)
    first = (
        update(MEMBER_TABLE)
        .where(
            MEMBER_TABLE.c.id == bindparam("first_member"),
            or_(
                MEMBER_TABLE.c.first_purchase_at.is_(None), MEMBER_TABLE.c.first_purchase_at > when
            ),
            select(head.c.id).exists(),
        )
        .values(
            first_purchase_at=when,
            first_purchase_category=select(PRODUCT_TABLE.c.department)
            .where(PRODUCT_TABLE.c.id == bindparam("first_product"))
            .scalar_subquery(),
            # The receipt's own time of recording (the column's onupdate is not applied
            # to a statement nested in a CTE).
            updated_at=bindparam("r_recorded_at", type_=RECEIPT_TABLE.c.recorded_at.type),
        )
    )
    return statement.add_cte(first.cte("first_purchase"))


RECEIPT_WITH_LINES_PG = _receipt_with_lines_pg()
RECEIPT_WITH_LINES_FIRST_PG = _receipt_with_lines_pg(first_purchase=True)
#: The same with the member's points written too (:func:`_receipt_with_lines_pg`).
RECEIPT_WITH_POINTS_PG = {
    first: _receipt_with_lines_pg(first_purchase=first, points=True) for first in (False, True)
}

_PRICED_COLUMNS = ("line_no", "barcode", "quantity", "unit_price", "discount", "amount")


def _anonymous_sale_pg() -> Select[Any]:
    """PostgreSQL: an anonymous sale of known barcodes in one statement, products included.

    Like :func:`_receipt_with_lines_pg`, but each line carries its barcode, and the
    statement finds the products itself (``priced``), so the receipt costs no round trip
    of its own for them. The receipt is inserted only when every barcode is a known
    product; the statement returns the new id (none for a key already taken, or when a
    barcode is unknown) and ``known``, whether every barcode was found. A receipt with an
    unknown barcode then goes the usual way, which makes the product to review.
    """
    values = [bindparam(f"r_{name}", type_=RECEIPT_TABLE.c[name].type) for name in _RECEIPT_COLUMNS]
    line_types = {**{n: LINE_TABLE.c[n].type for n in _LINE_COLUMNS}, "barcode": Text()}
    lines = (
        func.json_to_recordset(cast(bindparam("receipt_lines_json", type_=Text()), postgresql.JSON))
        .table_valued(*(column(name, line_types[name]) for name in _PRICED_COLUMNS))
        .render_derived(name="line", with_types=True)
    )
    # A subquery per line, not a join: with the function's row estimate (100) the planner
    # chose to hash-join the whole product table for every receipt.
    product = (
        select(PRODUCT_TABLE.c.id)
        .where(PRODUCT_TABLE.c.barcode == lines.c.barcode)
        .scalar_subquery()
        .label("product_id")
    )
    priced = select(*(lines.c[name] for name in _PRICED_COLUMNS), product).cte("priced")
    unknown = select(priced.c.line_no).where(priced.c.product_id.is_(None)).exists()
    head = (
        postgresql.insert(RECEIPT_TABLE)
        .from_select(list(_RECEIPT_COLUMNS), select(*values).where(~unknown))
        .on_conflict_do_nothing(index_elements=_KEY)
        .returning(RECEIPT_TABLE.c.id)
        .cte("new_receipt")
    )
    written = insert(LINE_TABLE).from_select(
        ["receipt_id", *_LINE_COLUMNS],
        select(head.c.id, *(priced.c[name] for name in _LINE_COLUMNS)).join_from(
            head, priced, true()
        ),
    )
    return select(
        select(head.c.id).scalar_subquery().label("id"), (~unknown).label("known")
    ).add_cte(written.cte("new_lines"))


ANONYMOUS_SALE_PG = _anonymous_sale_pg()


@dataclass(frozen=True)
class FirstPurchase:
    """A receipt that may be its member's first purchase: when, and its largest line's
    product (whose department becomes the first purchase's category)."""

    member_id: int
    at: datetime
    product_id: int


def _insert_once(
    uow: UnitOfWork,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    first: FirstPurchase | None = None,
) -> int | None:
    """Insert a receipt row and its lines unless its key exists; the new id or ``None``.

    ``ON CONFLICT DO NOTHING`` makes two tills racing with the same key safe on
    PostgreSQL (the second waits for the first and then inserts nothing) without a
    savepoint; SQLite serialises writers anyway. On PostgreSQL the receipt, its lines and
    the member's first purchase (``first``) are one statement (one round trip); SQLite,
    in process, runs them in turn.
    """
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        params = _pg_params(values, lines, first)
        statement = RECEIPT_WITH_LINES_PG if first is None else RECEIPT_WITH_LINES_FIRST_PG
        receipt_id: int | None = (
            session.connection().execute(statement, params).scalar_one_or_none()
        )
        if receipt_id is not None and first is not None:
            _forget_first_purchase(uow, first.member_id)
        return receipt_id
    stmt = (
        sqlite.insert(RECEIPT_TABLE)
        .values(**values)
        .on_conflict_do_nothing(index_elements=_KEY)
        .returning(RECEIPT_TABLE.c.id)
    )
    receipt_id = session.execute(stmt).scalar_one_or_none()
    if receipt_id is not None and lines:
        _insert_lines(uow, [{**line, "receipt_id": receipt_id} for line in lines])
    if receipt_id is not None and first is not None:
        _note_first_purchase(uow, first)
    return receipt_id


def _pg_params(
    values: dict[str, Any], lines: list[dict[str, Any]], first: FirstPurchase | None
) -> dict[str, Any]:
    """The parameters of :func:`_receipt_with_lines_pg`'s statements."""
    params: dict[str, Any] = {f"r_{name}": values.get(name) for name in _RECEIPT_COLUMNS}
    params["receipt_lines_json"] = _lines_json(lines)
    if first is not None:
        params.update(
            first_member=first.member_id, first_at=first.at, first_product=first.product_id
        )
    return params


def _insert_with_points(
    uow: UnitOfWork,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    first: FirstPurchase | None,
    plan: loyalty.TillPlan,
) -> tuple[int, dict[str, Any]] | None:
    """PostgreSQL: insert a member's receipt, its lines and its points in one statement.

    The new id and the answer's points fields, or ``None`` when the key exists (then
    nothing at all was written, points included).
    """
    params = _pg_params(values, lines, first)
    params.update(plan.params)
    params["answer_known"] = json.dumps({**values["response"], **plan.answer})
    params["answer_balance"] = plan.new_balance - plan.add_expired
    params["answer_add_pending"] = plan.add_pending
    row = (
        uow.session.connection().execute(RECEIPT_WITH_POINTS_PG[first is not None], params).first()
    )
    if row is None:
        return None
    if first is not None:
        _forget_first_purchase(uow, first.member_id)
    loyalty.planned(uow)
    return int(row.id), plan.answer_with(int(row.pending), int(row.expired))


def _insert_planned(
    uow: UnitOfWork,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    first: FirstPurchase | None,
    plan: loyalty.TillPlan,
    before: tuple[int, int],
) -> tuple[int, dict[str, Any]] | None:
    """SQLite: insert a member's receipt with its whole answer, then its points.

    The member's read brought the points pending and expired before the receipt (the till
    writer holds the database, so they are current), so the answer is complete before the
    insert and is written once. ``None`` when the key exists (nothing is written).
    """
    points = plan.answer_with(*before)
    receipt_id = _insert_once(
        uow, {**values, "response": {**values["response"], **points}}, lines, first
    )
    if receipt_id is None:
        return None
    loyalty.plan_write(uow, plan, source_id=receipt_id)
    return receipt_id, points


def _insert_lines(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Insert a receipt's lines with a Core executemany of the table.

    Measured per 10-line receipt on PostgreSQL: the ORM's bulk insert costs several times
    the CPU of a Core executemany (which psycopg pipelines in one round trip), and a
    multi-row ``.values(rows)`` is recompiled on every call, costing more still.
    """
    uow.session.execute(insert(LINE_TABLE), rows)


def _till_member_query(dialect: str, *, redeems: bool) -> TillMemberQuery:
    """The till's member read: it also says whether the member has a list valid at ``at``,
    takes the lock on the member's points account (:class:`loyalty.LockJoin`; for a
    receipt that ``redeems`` points, with the lots to spend) and finds the receipt's
    products, so a member's receipt spends no round trip of its own on any of them.

    It also says whether the receipt's key is taken already (a replay), so a replay does
    not work out points that will not be written. The extra columns are, in order: the
    list check, the lock's columns, the replay check, the barcodes' product ids
    (:func:`_may_have_list`, :func:`_account_locked`, :func:`_seen`, :func:`_product_ids`).
    """
    lock = _LOCKS[dialect, redeems]
    has_list = offers.has_open_list(bindparam("at", type_=RECEIPT_TABLE.c.occurred_at.type))
    seen = (
        select(RECEIPT_TABLE.c.id)
        .where(
            RECEIPT_TABLE.c.store_id == bindparam("seen_store"),
            RECEIPT_TABLE.c.terminal_id == bindparam("seen_terminal"),
            RECEIPT_TABLE.c.receipt_no == bindparam("seen_no"),
        )
        .exists()
    )
    also = (has_list, *lock.columns, seen, barcodes_column(dialect))
    return TillMemberQuery(also=also, join=(lock.right, lock.onclause))


def _seen(member: TillMember | None) -> bool:
    """Whether the member's read found the receipt's key taken (:data:`_TILL_MEMBER`): a
    replay, or a receipt another request recorded first. Only a hint (the insert decides)."""
    return member is not None and bool(member.also) and bool(member.also[-2])


_READS = [(name, redeems) for name in ("postgresql", "sqlite") for redeems in (False, True)]
_LOCKS = {(name, redeems): loyalty.lock_join(name, lots=redeems) for name, redeems in _READS}
_TILL_MEMBER = {key: _till_member_query(key[0], redeems=key[1]) for key in _READS}


def _member_for(
    uow: UnitOfWork, ref: MemberRef | None, data: ReceiptIn, now: datetime, key: tuple[int, int]
) -> TillMember | None:
    """The active member a receipt names, or ``InvalidInput`` on ``member``.

    The same read says whether the member has a personal list valid at the receipt's
    time, so a member without one costs the till no list statement, and finds the
    products of the receipt's barcodes (:func:`_product_ids`).
    """
    if ref is None:
        return None
    try:
        member = member_for_till(
            uow.session,
            member_id=ref.member_id,
            mobile=ref.mobile,
            card_no=ref.card_no,
            member_code=ref.member_code,
            query=_TILL_MEMBER[uow.session.get_bind().dialect.name, bool(data.redeem_points)],
            params={
                "at": data.occurred_at,
                "keys": sorted({line.barcode for line in data.lines if line.barcode}),
                "now": now,
                "seen_store": key[0],
                "seen_terminal": key[1],
                "seen_no": data.receipt_no,
            },
        )
    except (NotFound, InvalidInput) as exc:
        raise InvalidInput(_("member not found"), field="member") from exc
    if member is None or member.status != "active":
        raise InvalidInput(_("member not found"), field="member")
    return member


def _member_of(
    uow: UnitOfWork, data: ReceiptIn, now: datetime, key: tuple[int, int]
) -> TillMember | None:
    """The receipt's member (by card, mobile, code, id or personal list), checked; ``key``
    is the receipt's store and till."""
    member = _member_for(uow, data.member, data, now, key)
    if member is None and data.list_code:
        owner = member_resolve(
            uow.session, member_id=offers.list_by_code(uow, code=data.list_code).member_id
        )
        member = TillMember(owner.id, owner.status, owner.first_purchase_at)
    if data.redeem_points and member is None:
        raise InvalidInput(_("points can only be redeemed by a member"), field="redeem_points")
    if data.coupons and member is None:
        raise InvalidInput(_("coupons can only be used by their member"), field="coupons")
    return member


def _product_ids(uow: UnitOfWork, data: ReceiptIn, member: TillMember | None) -> list[int]:
    """Product id of every line; an unknown barcode or SKU becomes a product to review.

    A member's read found the barcodes' products already (:data:`_TILL_MEMBER`); only
    SKUs, or a receipt without that read, cost a statement here.
    """
    skus = [line.sku for line in data.lines if line.sku and not line.barcode]
    if member is not None and member.also:
        by_barcode = barcode_ids(member.also[-1])
        by_sku = products_by_keys(uow.session, skus=skus)[1] if skus else {}
    else:
        by_barcode, by_sku = products_by_keys(
            uow.session,
            barcodes=[line.barcode for line in data.lines if line.barcode],
            skus=skus,
        )
    ids: list[int] = []
    for line in data.lines:
        found = by_barcode.get(line.barcode) if line.barcode else by_sku.get(line.sku or "")
        if found is None:
            product = product_placeholder(
                uow, barcode=line.barcode, sku=None if line.barcode else line.sku
            )
            found = product.id
            if line.barcode:
                by_barcode[line.barcode] = found
            else:
                by_sku[line.sku or ""] = found
        ids.append(found)
    return ids


def _first_purchase(
    member: TillMember | None, data: ReceiptIn, product_ids: list[int]
) -> FirstPurchase | None:
    """The first purchase this receipt would be, if it is earlier than the member's."""
    if member is None or not product_ids:
        return None
    if member.first_purchase_at is not None and member.first_purchase_at <= data.occurred_at:
        return None
    largest = max(range(len(data.lines)), key=lambda n: data.lines[n].amount)
    return FirstPurchase(member.id, data.occurred_at, product_ids[largest])


def _note_first_purchase(uow: UnitOfWork, first: FirstPurchase) -> None:
    """Keep the member's first purchase (date and main department) derived from receipts.

    One conditional UPDATE, so two tills recording a member's receipts at once can only
    ever move the date earlier, never leave the later one in place. (On PostgreSQL the
    same update rides with the receipt's insert: :data:`RECEIPT_WITH_LINES_FIRST_PG`.)
    """
    department = (
        select(PRODUCT_TABLE.c.department)
        .where(PRODUCT_TABLE.c.id == first.product_id)
        .scalar_subquery()
    )
    uow.session.execute(
        update(MEMBER_TABLE)
        .where(
            MEMBER_TABLE.c.id == first.member_id,
            or_(
                MEMBER_TABLE.c.first_purchase_at.is_(None),
                MEMBER_TABLE.c.first_purchase_at > first.at,
            ),
        )
        .values(first_purchase_at=first.at, first_purchase_category=department)
    )
    _forget_first_purchase(uow, first.member_id)


def _forget_first_purchase(uow: UnitOfWork, member_id: int) -> None:
    """Expire a loaded member's first purchase: a Core statement may have changed it."""
    loaded = uow.session.identity_map.get(identity_key(Member, member_id))
    if loaded is not None:
        uow.session.expire(loaded, ["first_purchase_at", "first_purchase_category"])


def _digest(data: ReceiptIn) -> str:
    """The receipt's content hash. Receipts sent before redemption, coupons and lists
    existed keep their hash: those fields count when set."""
    unset = {
        name for name in ("redeem_points", "coupons", "list_code") if getattr(data, name) is None
    }
    return content_hash(data.model_dump(mode="json", exclude=unset or None))


def receipt_record(
    uow: UnitOfWork, *, store: Place, terminal: Place, data: ReceiptIn, source: str = "till"
) -> Recorded:
    """Record a checkout once; a replay returns the first answer, other content 409.

    For a member, points are redeemed and earned in the same transaction and the stored
    answer carries them, so a replay returns them without earning or redeeming again.

    The receipt is inserted first (``ON CONFLICT DO NOTHING``) and a replay found by the
    insert finding its key taken, which saves a read on every first send. A request the
    checks refuse is looked up first, so that a replay is answered even when its member
    has since been merged away or erased.
    """
    digest = _digest(data)
    now = utcnow()
    try:
        member = _member_of(uow, data, now, (store.id, terminal.id))
    except DomainError:
        existing = _existing(uow, store.id, terminal.id, data.receipt_no)
        if existing is not None:
            return _replay(uow, existing, digest, (store, terminal))
        raise
    locked = _account_locked(uow, member, data)
    if member is None and _anonymous_in_one(uow, data):
        recorded = _anonymous_sale(uow, store, terminal, data, digest, now, source)
        if recorded is not None:
            return recorded
    product_ids = _product_ids(uow, data, member)
    member_id = member.id if member else None
    answer = _sale_answer(store, terminal, data, member_id, now)
    values = _sale_values(store, terminal, data, member_id, digest, answer, now, source)
    lines = [
        {
            "line_no": n,
            "product_id": product_id,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount": line.discount,
            "amount": line.amount,
        }
        for n, (line, product_id) in enumerate(zip(data.lines, product_ids, strict=True), start=1)
    ]
    first = _first_purchase(member, data, product_ids)
    content = _request_content(data, member_id, product_ids)
    try:
        plan = _points_plan(uow, member, locked, data, product_ids, now)
    except DomainError:
        # Refused (say, points already spent): a replay of a receipt that spent them is
        # still answered with its first answer.
        existing = _existing(uow, store.id, terminal.id, data.receipt_no)
        if existing is not None:
            return _replay(uow, existing, digest, (store, terminal), content)
        raise
    points: dict[str, Any] | None = None
    receipt_id: int | None
    if plan is not None:
        if uow.session.get_bind().dialect.name == "postgresql":
            inserted = _insert_with_points(uow, values, lines, first, plan)
        else:
            assert isinstance(locked, loyalty.LockedRow) and locked.before is not None
            inserted = _insert_planned(uow, values, lines, first, plan, locked.before)
        receipt_id, points = inserted if inserted is not None else (None, None)
    else:
        receipt_id = _insert_once(uow, values, lines, first)
    if receipt_id is None:
        return _taken(uow, store, terminal, data.receipt_no, digest, content)
    if points is not None:
        answer = {**answer, **points}
    elif member is not None:
        answer = _member_part(uow, member, locked, receipt_id, data, product_ids, answer, now)
    return Recorded(answer=_with_id(answer, receipt_id), replayed=False)


def _sale_answer(
    store: Place, terminal: Place, data: ReceiptIn, member_id: int | None, now: datetime
) -> dict[str, Any]:
    """A sale's stored answer before its id and points (:func:`_stored_answer`)."""
    return _stored_answer(
        kind="sale",
        store=store,
        terminal=terminal,
        receipt_no=data.receipt_no,
        member_id=member_id,
        total=sum((line.amount for line in data.lines), Decimal("0")),
        line_count=len(data.lines),
        recorded_at=now,
    )


def _request_content(
    data: ReceiptIn, member_id: int | None, product_ids: list[int]
) -> Callable[[], Content | None]:
    """The request's :class:`Content`, for a key taken by a receipt from a file; ``None``
    when it carries what no file does (points to redeem, coupons, a personal list)."""

    def content() -> Content | None:
        if data.redeem_points or data.coupons or data.list_code is not None:
            return None
        return Content(
            occurred_at=data.occurred_at,
            member_id=member_id,
            cashier=data.cashier,
            payments=tuple((p.method, cents(p.amount)) for p in data.payments),
            lines=tuple(
                (pid, milli(x.quantity), cents(x.unit_price), cents(x.discount), cents(x.amount))
                for x, pid in zip(data.lines, product_ids, strict=True)
            ),
        )

    return content


def _taken(
    uow: UnitOfWork,
    store: Place,
    terminal: Place,
    receipt_no: str,
    digest: str,
    content: Callable[[], Content | None] | None = None,
) -> Recorded:
    """The answer when the insert found the key taken: a replay, or another request with
    this key committed before ours (same content: its answer; other content: 409)."""
    stored = _existing(uow, store.id, terminal.id, receipt_no)
    if stored is None:  # pragma: no cover - the conflict row cannot vanish
        raise Conflict(
            _("receipt {receipt_no} is being recorded"), field="receipt_no", receipt_no=receipt_no
        )
    return _replay(uow, stored, digest, (store, terminal), content)


def _sale_values(
    store: Place,
    terminal: Place,
    data: ReceiptIn,
    member_id: int | None,
    digest: str,
    answer: dict[str, Any],
    now: datetime,
    source: str,
) -> dict[str, Any]:
    """A sale's receipt row (its lines apart)."""
    return {
        "store_id": store.id,
        "terminal_id": terminal.id,
        "receipt_no": data.receipt_no,
        "kind": "sale",
        "occurred_at": data.occurred_at,
        "cashier": data.cashier,
        "member_id": member_id,
        "total": sum((line.amount for line in data.lines), Decimal("0")),
        "discount_total": sum((line.discount for line in data.lines), Decimal("0")),
        "line_count": len(data.lines),
        "payments": [p.model_dump(mode="json", exclude_none=True) for p in data.payments],
        "content_hash": digest,
        "response": answer,
        "source": source,
        "recorded_at": now,
    }


def _anonymous_in_one(uow: UnitOfWork, data: ReceiptIn) -> bool:
    """Whether a sale without a member can go in one statement (:data:`ANONYMOUS_SALE_PG`):
    on PostgreSQL, every line by barcode, nothing to redeem."""
    return (
        uow.session.get_bind().dialect.name == "postgresql"
        and not data.coupons
        and data.list_code is None
        and not data.redeem_points
        and all(line.barcode for line in data.lines)
    )


def _anonymous_sale(
    uow: UnitOfWork,
    store: Place,
    terminal: Place,
    data: ReceiptIn,
    digest: str,
    now: datetime,
    source: str,
) -> Recorded | None:
    """Record an anonymous sale with :data:`ANONYMOUS_SALE_PG`; ``None`` when a barcode is
    not a known product (nothing was written: the caller goes the usual way)."""
    answer = _sale_answer(store, terminal, data, None, now)
    values = _sale_values(store, terminal, data, None, digest, answer, now, source)
    params: dict[str, Any] = {f"r_{name}": values.get(name) for name in _RECEIPT_COLUMNS}
    params["receipt_lines_json"] = _lines_json(
        [
            {
                "line_no": n,
                "barcode": line.barcode,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "amount": line.amount,
            }
            for n, line in enumerate(data.lines, start=1)
        ],
        with_barcode=True,
    )
    row = uow.session.connection().execute(ANONYMOUS_SALE_PG, params).one()
    if not row.known:
        return None
    if row.id is None:
        return _taken(uow, store, terminal, data.receipt_no, digest, _known_content(uow, data))
    return Recorded(answer=_with_id(answer, int(row.id)), replayed=False)


def _known_content(uow: UnitOfWork, data: ReceiptIn) -> Callable[[], Content | None]:
    """An anonymous sale's :class:`Content` with its barcodes' products looked up (every
    one is known: :data:`ANONYMOUS_SALE_PG` found them)."""

    def content() -> Content | None:
        by_barcode, _by_sku = products_by_keys(
            uow.session, barcodes=[line.barcode for line in data.lines if line.barcode]
        )
        ids = [by_barcode.get(line.barcode or "") for line in data.lines]
        known = [i for i in ids if i is not None]
        if len(known) < len(ids):  # pragma: no cover - deleted since the insert
            return None
        return _request_content(data, None, known)()

    return content


def _points_plan(
    uow: UnitOfWork,
    member: TillMember | None,
    locked: Row[Any] | loyalty.LockedRow | None,
    data: ReceiptIn,
    product_ids: list[int],
    now: datetime,
) -> loyalty.TillPlan | None:
    """A member's points worked out before the receipt is inserted, so that the receipt is
    written with its whole answer (PostgreSQL: one statement writes both,
    :func:`_insert_with_points`; SQLite: :func:`_insert_planned`); ``None`` where the
    receipt goes the longer way (:func:`_member_part` after the insert): coupons, a
    personal list to redeem, loyalty needing a write of its own, or on SQLite a member
    whose read did not bring the points before the receipt (no account yet)."""
    if member is None or locked is None or data.coupons or data.list_code is not None:
        return None
    if _may_have_list(member) or _seen(member):
        return None
    if uow.session.get_bind().dialect.name != "postgresql" and (
        not isinstance(locked, loyalty.LockedRow) or locked.before is None
    ):
        return None
    return loyalty.receipt_plan(
        uow,
        member_id=member.id,
        occurred_at=data.occurred_at,
        lines=[
            loyalty.TillLine(n, pid, line.amount, line.quantity)
            for n, (line, pid) in enumerate(zip(data.lines, product_ids, strict=True), start=1)
        ],
        redeem=data.redeem_points,
        now=now,
        locked=locked,
    )


def _may_have_list(member: TillMember) -> bool:
    """Whether offers must be asked about the member's lists: the read (:data:`_TILL_MEMBER`,
    whose first extra column is the list check) found one valid, or the member was found
    another way (by a list's code) and nothing is known."""
    return not member.also or bool(member.also[0])


def _account_locked(
    uow: UnitOfWork, member: TillMember | None, data: ReceiptIn
) -> Row[Any] | loyalty.LockedRow | None:
    """The member's points account, locked before the receipt's key is taken.

    The member's read took the lock already unless the member had no account yet (or was
    found by a list's code): then it is taken (and the account made) now. Every receipt
    of a member locks the account before it inserts, so two of them never wait for each
    other in opposite orders.
    """
    if member is None:
        return None
    locked = None
    if member.also:
        lock = _LOCKS[uow.session.get_bind().dialect.name, bool(data.redeem_points)]
        locked = lock.row(member.also[1:-2])
    return locked if locked is not None else loyalty.account_lock(uow, member.id)


def _member_part(
    uow: UnitOfWork,
    member: TillMember,
    locked: Row[Any] | loyalty.LockedRow | None,
    receipt_id: int,
    data: ReceiptIn,
    product_ids: list[int],
    answer: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A member's receipt: points, coupons and personal lists; the answer, stored.

    Loyalty writes the stored answer with its points in the statement that saves the
    account (:class:`loyalty.AnswerTo`); only a receipt that a personal list discounts
    writes it once more, with the discounts. A member whose read found no list valid at
    the time of sale (:func:`_member_for`) is not asked about lists again.
    """
    numbered = list(enumerate(zip(data.lines, product_ids, strict=True), start=1))
    points = loyalty.receipt_points(
        uow,
        member_id=member.id,
        source_id=receipt_id,
        occurred_at=data.occurred_at,
        lines=[loyalty.TillLine(n, pid, line.amount, line.quantity) for n, (line, pid) in numbered],
        redeem=data.redeem_points,
        coupon_codes=data.coupons or (),
        now=now,
        answer_to=loyalty.AnswerTo(
            RECEIPT_TABLE.c.response, RECEIPT_TABLE.c.id, receipt_id, answer
        ),
        locked=locked,
    )
    answer = {**answer, **points}
    if data.list_code is None and not _may_have_list(member):
        return answer
    discounts = offers.receipt_redeem(
        uow,
        member_id=member.id,
        list_code=data.list_code,
        receipt_id=receipt_id,
        occurred_at=data.occurred_at,
        lines=[
            offers.TillLine(n, pid, line.quantity, line.unit_price, line.amount)
            for n, (line, pid) in numbered
        ],
    )
    if discounts:
        answer = _store_points(uow, receipt_id, answer, offers.answer_part(discounts))
    uow.flush()
    return answer


def _store_points(
    uow: UnitOfWork, receipt_id: int, answer: dict[str, Any], points: dict[str, Any]
) -> dict[str, Any]:
    """Add the points to the stored answer, so every replay returns them as they were."""
    answer = {**answer, **points}
    uow.session.execute(update(Receipt).where(Receipt.id == receipt_id).values(response=answer))
    return answer


def _original_receipt(
    uow: UnitOfWork, store: Place, data: ReturnIn, *, lock: bool = True
) -> Receipt:
    """Find the receipt being returned against, locked against concurrent returns."""
    store_id = store.id
    if data.original_store and data.original_store != store.code:
        other = uow.session.scalars(select(Store).where(Store.code == data.original_store)).first()
        if other is None:
            raise InvalidInput(
                _("store {code} not found"), field="original_store", code=data.original_store
            )
        store_id = other.id
    # Joined to the store's tills so that the key's index is probed once per till
    # (store, terminal, number) rather than read through all of the store's receipts
    # (see ``queries.TILL_OF_RECEIPT``); only the receipt is locked, never the till.
    query = (
        select(Receipt)
        .join(Terminal, TILL_OF_RECEIPT)
        .where(
            Receipt.store_id == store_id,
            Receipt.receipt_no == data.original_receipt_no,
            Receipt.kind == "sale",
        )
    )
    if data.original_terminal:
        query = query.where(Terminal.code == data.original_terminal)
    found = list(uow.session.scalars(query.with_for_update(of=Receipt) if lock else query))
    if not found:
        raise InvalidInput(
            _("original receipt {receipt_no} not found"),
            field="original_receipt_no",
            receipt_no=data.original_receipt_no,
        )
    if len(found) > 1:
        raise InvalidInput(
            _("several tills used receipt number {receipt_no}; name the original terminal"),
            field="original_terminal",
            receipt_no=data.original_receipt_no,
        )
    return found[0]


def _original_lines(uow: UnitOfWork, original: Receipt) -> dict[int, ReceiptLine]:
    return {
        line.line_no: line
        for line in uow.session.scalars(
            select(ReceiptLine).where(ReceiptLine.receipt_id == original.id)
        )
    }


def _refund(line: ReceiptLine, quantity: Decimal, given: Decimal | None) -> Decimal:
    """The refund of ``quantity`` of ``line``: as given, or the line's amount pro rata."""
    if given is not None:
        return given
    return (line.amount * (quantity / line.quantity)).quantize(CENT, ROUND_HALF_UP)


def _return_content(
    uow: UnitOfWork, store: Place, data: ReturnIn
) -> Callable[[], ReturnContent | None]:
    """The request's :class:`ReturnContent`, for a key taken by a return that came in the
    other way; ``None`` when its original receipt or lines are not found."""

    def content() -> ReturnContent | None:
        try:
            original = _original_receipt(uow, store, data, lock=False)
        except DomainError:
            return None
        lines = _original_lines(uow, original)
        items: list[tuple[int, int, int]] = []
        for item in data.lines:
            line = lines.get(item.line_no)
            if line is None:
                return None
            refund = _refund(line, item.quantity, item.amount)
            items.append((line.id, milli(item.quantity), cents(refund)))
        return ReturnContent(
            occurred_at=data.occurred_at,
            cashier=data.cashier,
            original_id=original.id,
            payments=tuple((p.method, cents(p.amount)) for p in data.payments),
            lines=tuple(items),
        )

    return content


def return_record(
    uow: UnitOfWork, *, store: Place, terminal: Place, data: ReturnIn, source: str = "till"
) -> Recorded:
    """Record a return once: negative lines linked to the original lines, never more than bought.

    A return already recorded under this key is a replay when its request is the same, or,
    when it came in the other way (a till's return found in a file, or the other way
    round), when it is the same return as stored (:class:`ReturnContent`).
    """
    digest = content_hash(data.model_dump(mode="json"))
    content = _return_content(uow, store, data)
    places = (store, terminal)
    existing = _existing(uow, store.id, terminal.id, data.receipt_no)
    if existing is not None:
        return _replay(uow, existing, digest, places, content, source)
    original = _original_receipt(uow, store, data)
    # Looked up again now that the original is locked: a replay that waited for the lock
    # while its first send recorded the return must answer as a replay, not count that
    # return against itself and refuse ("already returned"). Found by the end-to-end test
    # once two server processes served the tills.
    existing = _existing(uow, store.id, terminal.id, data.receipt_no)
    if existing is not None:
        return _replay(uow, existing, digest, places, content, source)
    lines = _original_lines(uow, original)
    returned_before = dict(
        uow.session.execute(
            select(ReceiptLine.original_line_id, func.sum(ReceiptLine.quantity))
            .where(ReceiptLine.original_line_id.in_([line.id for line in lines.values()]))
            .group_by(ReceiptLine.original_line_id)
        ).all()
    )
    rows: list[dict[str, Any]] = []
    shares: list[tuple[int, Decimal, Decimal]] = []  # line, share returned so far, refund
    total = Decimal("0")
    discount_total = Decimal("0")
    for index, item in enumerate(data.lines):
        line = lines.get(item.line_no)
        if line is None:
            raise InvalidInput(
                _("receipt {receipt_no} has no line {line_no}"),
                field=f"lines[{index}].line_no",
                receipt_no=original.receipt_no,
                line_no=item.line_no,
            )
        already = -Decimal(returned_before.get(line.id) or 0)
        if already + item.quantity > line.quantity:
            raise RuleViolation(
                _("cannot return {quantity}: {bought} bought, {returned} already returned"),
                field=f"lines[{index}].quantity",
                quantity=item.quantity,
                bought=line.quantity,
                returned=already,
            )
        share = item.quantity / line.quantity
        amount = _refund(line, item.quantity, item.amount)
        if amount > line.amount:
            raise RuleViolation(
                _("refund {amount} exceeds the line's amount {paid}"),
                field=f"lines[{index}].amount",
                amount=amount,
                paid=line.amount,
            )
        line_discount = (line.discount * share).quantize(CENT, ROUND_HALF_UP)
        shares.append((line.line_no, (already + item.quantity) / line.quantity, amount))
        total -= amount
        discount_total -= line_discount
        rows.append(
            {
                "line_no": index + 1,
                "product_id": line.product_id,
                "quantity": -item.quantity,
                "unit_price": line.unit_price,
                "discount": -line_discount,
                "amount": -amount,
                "original_line_id": line.id,
            }
        )
    member_id = original.member_id
    if member_id is not None:
        member_id = member_resolve(uow.session, member_id=member_id).id
    payments = [p.model_dump(mode="json", exclude_none=True) for p in data.payments]
    now = utcnow()
    answer = _stored_answer(
        kind="return",
        store=store,
        terminal=terminal,
        receipt_no=data.receipt_no,
        member_id=member_id,
        total=total,
        line_count=len(rows),
        recorded_at=now,
    )
    receipt_id = _insert_once(
        uow,
        {
            "store_id": store.id,
            "terminal_id": terminal.id,
            "receipt_no": data.receipt_no,
            "kind": "return",
            "occurred_at": data.occurred_at,
            "cashier": data.cashier,
            "member_id": member_id,
            "original_receipt_id": original.id,
            "total": total,
            "discount_total": discount_total,
            "line_count": len(rows),
            "payments": payments,
            "content_hash": digest,
            "response": answer,
            "source": source,
            "recorded_at": now,
        },
        [],
    )
    if receipt_id is None:
        raced = _existing(uow, store.id, terminal.id, data.receipt_no)
        if raced is None:  # pragma: no cover
            raise Conflict(
                _("receipt {receipt_no} is being recorded"),
                field="receipt_no",
                receipt_no=data.receipt_no,
            )
        return _replay(uow, raced, digest, places, content, source)
    _insert_lines(uow, [{**row, "receipt_id": receipt_id} for row in rows])
    if member_id is not None:
        points = loyalty.return_points(
            uow,
            member_id=member_id,
            source_id=receipt_id,
            original_id=original.id,
            lines=shares,
            now=now,
        )
        answer = _store_points(uow, receipt_id, answer, points)
    uow.flush()
    return Recorded(answer=_with_id(answer, receipt_id), replayed=False)
