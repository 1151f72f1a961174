"""The till's SQL: statements built once, and a receipt's writes sent in few round trips.

Used by :mod:`regulars.loyalty.till` (earning and redemption) and
:mod:`regulars.loyalty.coupons_till`. Core statements on the tables, not ORM flushes:
SQLAlchemy reuses their compiled form on every receipt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BindParameter,
    Column,
    ColumnElement,
    Connection,
    Dialect,
    FromClause,
    Integer,
    Row,
    ScalarSelect,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by

from regulars.catalog.models import Product
from regulars.core.db import UTCDateTime
from regulars.loyalty import ledger, rules
from regulars.loyalty.models import LoyaltyProgramme, LoyaltyTier, PointsAccount, PointsLine
from regulars.loyalty.programme import PROGRAMME_CODE
from regulars.members.models import Member


def table_of(model: Any) -> Table:
    """The Core table of a mapped class."""
    table: Table = model.metadata.tables[model.__tablename__]
    return table


ACCOUNT = table_of(PointsAccount)
LINE = table_of(PointsLine)
PROGRAMME = table_of(LoyaltyProgramme)
MEMBER = table_of(Member)
PRODUCT = table_of(Product)
_NOW = bindparam("now", type_=UTCDateTime())
_MEMBER_ID: BindParameter[int] = bindparam("member_id")

# Statements are built once: SQLAlchemy then reuses their compiled form on every receipt.
LOCK = (
    select(
        ACCOUNT.c.id,
        ACCOUNT.c.balance,
        ACCOUNT.c.debt,
        ACCOUNT.c.lifetime_earned,
        ACCOUNT.c.tier_code,
        ACCOUNT.c.tier_since,
        ACCOUNT.c.qualifying_spend,
        ACCOUNT.c.first_earn_at,
        ACCOUNT.c.birthday_bonus_year,
        # Read in the same statement as the lock: a programme change committed while this
        # receipt waited for the lock applies from the next receipt, as if it came later.
        select(PROGRAMME.c.revision)
        .where(PROGRAMME.c.code == PROGRAMME_CODE)
        .scalar_subquery()
        .label("revision"),
        select(MEMBER.c.birthday)
        .where(MEMBER.c.id == _MEMBER_ID)
        .scalar_subquery()
        .label("birthday"),
    )
    .where(ACCOUNT.c.member_id == _MEMBER_ID)
    .with_for_update(of=ACCOUNT)
)


def _opened(dialect: str) -> Any:
    """A member's first account, in the entry tier, already locked: its ``LOCK`` columns.

    One statement instead of four (the lock finding nothing, the programme's read, the
    insert, the lock again): the entry tier is the programme's lowest rank, read by the
    insert itself, and the row a transaction inserts is locked for it until it commits.
    Nothing comes back when another receipt of the member made the account first (wait
    for it with ``LOCK``) or the programme has no tiers yet (it is seeded on first use).
    """
    tier = table_of(LoyaltyTier)
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    entry = (
        select(
            _MEMBER_ID,
            literal(0),
            literal(0),
            literal(0),
            tier.c.code,
            _NOW,
            literal(0),
            _NOW,
        )
        .select_from(tier.join(PROGRAMME, tier.c.programme_id == PROGRAMME.c.id))
        .where(PROGRAMME.c.code == PROGRAMME_CODE)
        .order_by(tier.c.rank, tier.c.id)
        .limit(1)
    )
    columns = [
        ACCOUNT.c[name]
        for name in (
            "member_id",
            "balance",
            "debt",
            "lifetime_earned",
            "tier_code",
            "tier_since",
            "qualifying_spend",
            "updated_at",
        )
    ]
    locked = LOCK.selected_columns
    return (
        builder(ACCOUNT)
        .from_select(columns, entry)
        .on_conflict_do_nothing(index_elements=["member_id"])
        .returning(*locked)
    )


#: Per dialect: open a member's account and return it locked (see :func:`_opened`).
OPEN = {name: _opened(name) for name in ("postgresql", "sqlite")}


class LockedRow(NamedTuple):
    """What :data:`LOCK` reads, when it comes with the member's own read instead."""

    id: int
    balance: int
    debt: int
    lifetime_earned: int
    tier_code: str
    tier_since: datetime
    qualifying_spend: Decimal
    first_earn_at: datetime | None
    birthday_bonus_year: int | None
    revision: str | None
    birthday: date | None
    #: The member's first spendable lots, read with the lock (:func:`lock_join` with
    #: ``lots``); ``None`` when not read, or when what was read may be out of date.
    lots: tuple[rules.Lot, ...] | None = None
    #: The member's pending and expired points before the receipt, read with the lock
    #: where the read is current (SQLite, whose writer holds the database from ``BEGIN``).
    before: tuple[int, int] | None = None


#: The account's columns that :data:`LOCK` reads (the rest of :class:`LockedRow` comes
#: from the programme and the member).
_LOCK_NAMES = tuple(
    name for name in LockedRow._fields if name not in ("revision", "birthday", "lots", "before")
)


@dataclass(frozen=True)
class LockJoin:
    """The account's lock as part of another statement's read of the ``member`` row.

    ``right`` is outer-joined to ``member`` on ``onclause``; ``columns`` (the account's,
    then the programme's revision and the member's birthday) are added to that read, and
    :meth:`row` turns their values back into what :data:`LOCK` would have read. On
    PostgreSQL the account is read by a ``LATERAL`` subquery with ``FOR UPDATE``, which
    locks it as :data:`LOCK` does (a receipt waiting for another of the same member then
    reads the account as that one left it); SQLite needs no row lock (its writers are
    serialised by ``BEGIN IMMEDIATE``) and joins the table.
    """

    right: FromClause
    onclause: ColumnElement[bool]
    columns: tuple[ColumnElement[Any], ...]
    #: What the columns after the lock's own bring: ``lots`` (with ``lots_current`` on
    #: PostgreSQL) and ``before`` (pending, then expired points; SQLite).
    extras: tuple[str, ...] = ()

    def row(self, values: Sequence[Any]) -> LockedRow | None:
        """The lock's values from the read (``None``: the member has no account yet)."""
        if values[0] is None:
            return None
        width = len(LockedRow._fields) - 2
        extra = dict(zip(self.extras, values[width:], strict=True))
        lots = _lots_of(extra["lots"]) if "lots" in extra else None
        if not extra.get("lots_current", True):
            lots = None
        before = (int(extra["pending"]), int(extra["expired"])) if "pending" in extra else None
        return LockedRow._make([*values[:width], lots, before])


def _lots_of(value: Any) -> tuple[rules.Lot, ...]:
    """Lots read as JSON ``[[id, remaining, expires_at epoch seconds or null], …]``."""
    if isinstance(value, str):  # SQLite's JSON1 returns text
        value = json.loads(value)
    return tuple(rules.Lot(int(i), int(n), _lot_expiry(at)) for i, n, at in value or ())


def _lot_expiry(value: float | str | None) -> datetime | None:
    """A lot's expiry as read in JSON: epoch seconds (PostgreSQL) or stored text (SQLite)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def _spendable_lots(whose: ColumnElement[bool]) -> Select[Any]:
    """Spendable lots (live, available and unexpired at ``now``), soonest-expiring first."""
    return (
        select(LINE.c.id, LINE.c.remaining, LINE.c.expires_at)
        .where(
            whose,
            LINE.c.remaining > 0,
            or_(LINE.c.expires_at.is_(None), LINE.c.expires_at > _NOW),
            or_(LINE.c.available_at.is_(None), LINE.c.available_at <= _NOW),
        )
        .order_by(LINE.c.expires_at.asc().nulls_last(), LINE.c.id)
    )


def lock_join(dialect: str, *, lots: bool = False) -> LockJoin:
    """:class:`LockJoin` for the ``dialect`` (``postgresql`` or ``sqlite``).

    With ``lots`` (for a receipt that redeems points) the read also brings the member's
    first spendable lots at the ``now`` parameter, saving the redemption its own read. On
    SQLite, whose till writer holds the database from ``BEGIN IMMEDIATE``, what the read
    sees is current, and it also brings the member's pending and expired points, so the
    receipt's answer is known before its insert (:attr:`LockedRow.before`). On PostgreSQL
    the lots They come from the statement's snapshot, while the lock may have waited for
    another transaction of the member's that committed after it: the read compares the
    account row it locked with the snapshot's (``xmin``, the transaction that wrote each
    version). Every change to a member's lots also updates the account (the balance
    moves), so equal versions mean the lots read are current; otherwise they are not
    used (:attr:`LockedRow.lots` is ``None``) and the redemption reads them again.
    """
    if dialect == "postgresql":
        version: ColumnElement[Any] = literal_column("points_account.xmin")
        right: Any = (
            select(
                *(ACCOUNT.c[name] for name in _LOCK_NAMES),
                ACCOUNT.c.member_id,
                version.label("version"),
            )
            .where(ACCOUNT.c.member_id == MEMBER.c.id)
            .with_for_update()
            .lateral("locked_account")
        )
        onclause: ColumnElement[bool] = true()
    else:
        right = ACCOUNT.alias("locked_account")
        onclause = right.c.member_id == MEMBER.c.id
    columns: tuple[ColumnElement[Any], ...] = (
        *(right.c[name].label(f"account_{name}") for name in _LOCK_NAMES),
        select(PROGRAMME.c.revision)
        .where(PROGRAMME.c.code == PROGRAMME_CODE)
        .scalar_subquery()
        .label("programme_revision"),
        MEMBER.c.birthday.label("member_birthday"),
    )
    extras: tuple[str, ...] = ()
    if dialect != "postgresql":
        pending, expired = _position(LINE.c.member_id == MEMBER.c.id)
        columns += (pending.label("account_pending"), expired.label("account_expired"))
        extras = ("pending", "expired")
        if lots:
            first = (
                _spendable_lots(LINE.c.member_id == MEMBER.c.id)
                .correlate(MEMBER)
                .limit(ledger.FIRST_LOTS)
                .subquery("first_lots")
            )
            # Unordered: the allocation sorts the lots (:func:`rules.fifo_allocate`).
            read = select(
                func.json_group_array(
                    func.json_array(first.c.id, first.c.remaining, first.c.expires_at)
                )
            ).scalar_subquery()
            columns += (read.label("account_lots"),)
            extras += ("lots",)
    if lots and dialect == "postgresql":
        first = (
            _spendable_lots(LINE.c.member_id == MEMBER.c.id)
            .correlate(MEMBER)
            .limit(ledger.FIRST_LOTS)
            .subquery("first_lots")
        )
        epoch = func.extract("epoch", first.c.expires_at)
        read = select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(first.c.id, first.c.remaining, epoch),
                    first.c.expires_at.asc().nulls_last(),
                    first.c.id,
                )
            )
        ).scalar_subquery()
        seen = (
            select(literal_column("points_account.xmin"))
            .select_from(ACCOUNT)
            .where(ACCOUNT.c.member_id == MEMBER.c.id)
            .scalar_subquery()
        )
        current = right.c.version.op("=")(seen)
        columns += (read.label("account_lots"), current.label("account_lots_current"))
        extras = ("lots", "lots_current")
    return LockJoin(right, onclause, columns, extras)


def _position(whose: ColumnElement[bool]) -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """The pending and the expired-but-unprocessed points of the lots ``whose`` picks."""
    live = (whose, LINE.c.remaining > 0)
    pending = (
        select(func.coalesce(func.sum(LINE.c.remaining), 0))
        .where(*live, LINE.c.available_at > _NOW)
        .where(or_(LINE.c.expires_at.is_(None), LINE.c.expires_at > _NOW))
        .scalar_subquery()
    )
    expired = (
        select(func.coalesce(func.sum(LINE.c.remaining), 0))
        .where(*live, LINE.c.expires_at <= _NOW)
        .scalar_subquery()
    )
    return pending, expired


LOTS = _spendable_lots(LINE.c.member_id == _MEMBER_ID)
TAKE = (
    update(LINE)
    .where(LINE.c.id == bindparam("lot_id"))
    .values(remaining=LINE.c.remaining - bindparam("take"))
)
INSERT_LINES = insert(LINE)
INSERT_LOT = insert(LINE).returning(LINE.c.id)
# In the account's UPDATE a parameter may not be named like one of its columns.
_OWNER: BindParameter[int] = bindparam("owner")
_live = (LINE.c.member_id == _OWNER, LINE.c.remaining > 0)
_PENDING, _EXPIRED = _position(LINE.c.member_id == _OWNER)
# The position comes back from the account's own update: the lock is held, so no other
# transaction can change this member's lots between the update and its subqueries.
_SAVE_VALUES = (
    update(ACCOUNT)
    .where(ACCOUNT.c.id == bindparam("account_id"))
    .values(
        balance=bindparam("new_balance"),
        debt=bindparam("new_debt"),
        lifetime_earned=bindparam("new_lifetime"),
        tier_code=bindparam("new_tier"),
        tier_since=bindparam("new_tier_since", type_=UTCDateTime()),
        qualifying_spend=bindparam("new_spend", type_=ACCOUNT.c.qualifying_spend.type),
        first_earn_at=bindparam("new_first_earn", type_=UTCDateTime()),
        birthday_bonus_year=bindparam("new_birthday_year"),
        updated_at=_NOW,
    )
)
SAVE = _SAVE_VALUES.returning(_PENDING.label("pending"), _EXPIRED.label("expired"))
#: The account's update alone, where the answer's numbers are known before it.
SAVE_ACCOUNT = _SAVE_VALUES


def _line_rows(names: Sequence[str]) -> Any:
    """New ledger lines as one JSON parameter (``lines_json``, :func:`lines_json`), read
    back with ``json_to_recordset``: the statement is the same for any number of lines,
    so SQLAlchemy compiles it once and psycopg prepares it. One JSON text costs the till
    less than an array per column, which psycopg inspects and quotes element by element
    (measured on a member's receipt: about a fifth of loyalty's own Python time). An
    empty list inserts nothing."""
    columns = [
        column(name, postgresql.JSON() if name == "detail" else LINE.c[name].type) for name in names
    ]
    return (
        func.json_to_recordset(cast(bindparam("lines_json", type_=Text()), postgresql.JSON))
        .table_valued(*columns)
        .render_derived(name="new_line", with_types=True)
    )


def _line_values(rows: Any, names: Sequence[str]) -> list[Any]:
    """The columns of :func:`_line_rows` as the insert takes them."""
    return [rows.c[n] for n in names]


def _json_value(value: Any) -> Any:
    """A bound value as JSON carries it to PostgreSQL (which casts the text back)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


_PROCESSORS: dict[str, dict[str, Any]] = {}


def lines_json(rows: Sequence[dict[str, Any]], names: Sequence[str], dialect: Dialect) -> str:
    """``rows`` of ledger lines as :func:`_line_rows` reads them: each value as the column's
    type binds it on ``dialect`` (money in cents, times in UTC), then as JSON."""
    processors = _PROCESSORS.get(dialect.name)
    if processors is None:
        processors = {name: LINE.c[name].type.bind_processor(dialect) for name in _LINE_NAMES}
        _PROCESSORS[dialect.name] = processors
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        for name in names:
            value = row.get(name)
            if name == "detail":
                item[name] = value
                continue
            process = processors[name]
            if process is not None and value is not None:
                value = process(value)
            item[name] = _json_value(value)
        out.append(item)
    return json.dumps(out)


def _taken(*conditions: ColumnElement[bool]) -> Any:
    """The lots taken (``takes_json``: ``[{"lot_id", "take"}, …]``): ``UPDATE … FROM``."""
    took = (
        func.json_to_recordset(cast(bindparam("takes_json", type_=Text()), postgresql.JSON))
        .table_valued(column("lot_id", Integer()), column("take", Integer()))
        .render_derived(name="took", with_types=True)
    )
    return (
        update(LINE)
        .where(LINE.c.id == took.c.lot_id, *conditions)
        .values(remaining=LINE.c.remaining - took.c.take)
    )


def takes_json(takes: dict[int, int]) -> str:
    """Lots taken as :func:`_taken` reads them."""
    return json.dumps([{"lot_id": k, "take": v} for k, v in takes.items()])


def _write_ctes() -> tuple[Any, Any]:
    """The receipt's new lines and lots taken, as data-modifying CTEs for :data:`SAVE`."""
    names = [c.name for c in LINE.columns if c.name != "id"]
    rows = _line_rows(names)
    new_lines = insert(LINE).from_select(names, select(*_line_values(rows, names)))
    return new_lines.cte("new_lines"), _taken().cte("taken")


_WRITES = _write_ctes()
SAVE_WITH_WRITES = SAVE.add_cte(*_WRITES)
_LINE_NAMES = [c.name for c in LINE.columns if c.name != "id"]


# Both sums in one pass over the member's live lots, as a CTE: PostgreSQL evaluates it
# once however often the statement reads it (the receipt's answer and its RETURNING).
_BEFORE = (
    select(
        func.coalesce(
            func.sum(LINE.c.remaining).filter(
                LINE.c.available_at > _NOW,
                or_(LINE.c.expires_at.is_(None), LINE.c.expires_at > _NOW),
            ),
            0,
        ).label("pending"),
        func.coalesce(func.sum(LINE.c.remaining).filter(LINE.c.expires_at <= _NOW), 0).label(
            "expired"
        ),
    )
    .where(*_live)
    .cte("points_before")
)


def points_before() -> tuple[ColumnElement[int], ColumnElement[int]]:
    """The member's pending and expired-but-unprocessed points, as scalar subqueries (on
    the ``owner`` and ``now`` parameters) for a statement that writes a receipt's points:
    they see the ledger as it was before that statement, which the account's lock, taken
    by an earlier statement, keeps from changing under it. Both read one CTE, which sums
    the member's lots once."""
    return (
        select(_BEFORE.c.pending).scalar_subquery(),
        select(_BEFORE.c.expired).scalar_subquery(),
    )


def receipt_writes(receipt: Any) -> tuple[Any, ...]:
    """Loyalty's writes as CTEs of the caller's own statement that inserts the receipt.

    ``receipt`` is the caller's CTE inserting the receipt (a column ``id``, no row when the
    receipt turns out to be a replay). The new ledger lines take their ``source_id`` from
    it, and the lots taken and the account's update happen only if it inserted a row, so
    a replay writes nothing. :meth:`Writes.plan_params` gives the parameters. Build once.
    """
    names = [c.name for c in LINE.columns if c.name not in ("id", "source_id")]
    rows = _line_rows(names)
    new_lines = insert(LINE).from_select(
        [*names, "source_id"],
        select(*_line_values(rows, names), receipt.c.id).select_from(receipt.join(rows, true())),
    )
    inserted = select(receipt.c.id).exists()
    taken = _taken(inserted)
    saved = _SAVE_VALUES.where(inserted)
    return new_lines.cte("new_points"), taken.cte("taken_lots"), saved.cte("saved_account")


@dataclass(frozen=True)
class AnswerTo:
    """Where the caller keeps the till's answer, for loyalty to write its part with it.

    Sales keeps each receipt's first answer on the receipt row (a replay returns it). The
    answer's points fields are only known once the account is saved, so rather than the
    caller writing the answer in a statement of its own after :func:`receipt_points`,
    loyalty writes ``base`` with its fields into ``column`` of the row whose ``key`` is
    ``key_value``, in the account's own statement on PostgreSQL. Loyalty imports nothing
    of the caller: the table comes as two columns.
    """

    column: Column[Any]
    key: Column[Any]
    key_value: Any
    base: dict[str, Any]


_ANSWERED: dict[tuple[str, str, str], Any] = {}
_ANSWER_UPDATES: dict[tuple[str, str, str], Any] = {}


def _answer_update(target: AnswerTo) -> Any:
    """``UPDATE`` of ``target``'s row with the whole answer (SQLite), built once per target
    column: building a statement per receipt costs more than running it."""
    name = (target.column.table.name, target.column.name, target.key.name)
    built = _ANSWER_UPDATES.get(name)
    if built is None:
        built = (
            update(target.column.table)
            .where(target.key == bindparam("answer_key"))
            .values({target.column: bindparam("answer", type_=target.column.type)})
        )
        _ANSWER_UPDATES[name] = built
    return built


def _with_answer(target: AnswerTo) -> Any:
    """:data:`SAVE_WITH_WRITES` that also writes the till's answer into ``target``'s row.

    The account's update becomes a CTE (``saved``) whose ``RETURNING`` gives the member's
    pending and expired points; a second CTE updates the target row with the answer built
    in SQL from them (``jsonb`` concatenation of the fields known before the statement and
    the two that depend on it). Built once per target column, then reused.
    """
    name = (target.column.table.name, target.column.name, target.key.name)
    built = _ANSWERED.get(name)
    if built is not None:
        return built
    saved = SAVE.cte("saved")
    # Scalar subqueries of the one-row ``saved`` rather than ``UPDATE … FROM saved``.
    pending = select(saved.c.pending).scalar_subquery() + bindparam(
        "answer_add_pending", type_=Integer()
    )
    expired = select(saved.c.expired).scalar_subquery()
    known = cast(bindparam("answer_known", type_=Text()), postgresql.JSONB)
    fields = func.jsonb_build_object(
        literal("balance"),
        bindparam("answer_balance", type_=Integer()) - pending - expired,
        literal("pending"),
        pending,
    )
    answered = (
        update(target.column.table)
        .where(target.key == bindparam("answer_key"))
        .values({target.column: cast(known.op("||")(fields), JSON)})
        .cte("answered")
    )
    statement = select(saved.c.pending, saved.c.expired).add_cte(*_WRITES, answered)
    _ANSWERED[name] = statement
    return statement


@dataclass
class AccountState:
    """The locked account's values while a receipt changes them."""

    id: int
    balance: int
    debt: int
    lifetime_earned: int
    tier_code: str
    tier_since: datetime
    qualifying_spend: Decimal
    first_earn_at: datetime | None
    birthday_bonus_year: int | None

    @classmethod
    def of(cls, row: Row[Any] | LockedRow) -> AccountState:
        """From the lock statement's row."""
        return cls(**{name: getattr(row, name) for name in _LOCK_NAMES})


def spendable(conn: Connection, member_id: int, now: datetime, need: int) -> list[rules.Lot]:
    """The member's spendable lots, soonest-expiring first: only the first few if they cover
    ``need`` (a regular may hold hundreds of lots)."""
    params = {"member_id": member_id, "now": now}
    first = [
        rules.Lot(r.id, r.remaining, r.expires_at)
        for r in conn.execute(LOTS.limit(ledger.FIRST_LOTS), params)
    ]
    if len(first) < ledger.FIRST_LOTS or sum(lot.remaining for lot in first) >= need:
        return first
    return [rules.Lot(r.id, r.remaining, r.expires_at) for r in conn.execute(LOTS, params)]


class Writes:
    """A receipt's ledger writes, sent with the account's update in as few statements as can be.

    On PostgreSQL the new lines (a multi-row ``INSERT``) and the lots taken (``UPDATE … FROM
    (VALUES …)``) ride as data-modifying CTEs of the account's ``UPDATE`` — one round trip
    for all three. Its ``RETURNING`` subqueries see the statement's snapshot, which predates
    the CTEs: lots taken are spendable ones (never pending or expired, so not counted
    either way), and the new lines' own pending or expired points are added here. SQLite
    has no data-modifying CTEs and no round trips to save: the statements run in turn.
    """

    def __init__(self, conn: Connection, member_id: int) -> None:
        self.conn = conn
        self.member_id = member_id
        self.rows: list[dict[str, Any]] = []
        self.takes: dict[int, int] = {}
        self.together = conn.dialect.name == "postgresql"

    def send(self) -> None:
        """Write what is pending now (when a later read must see it)."""
        if self.takes:
            self.conn.execute(TAKE, [{"lot_id": k, "take": v} for k, v in self.takes.items()])
        if self.rows:
            self.conn.execute(INSERT_LINES, self.rows)
        self.rows, self.takes = [], {}

    def save(
        self,
        now: datetime,
        params: dict[str, Any],
        answer: dict[str, Any],
        answer_to: AnswerTo | None = None,
    ) -> dict[str, Any]:
        """Write everything and the account; ``answer`` with the member's points after it.

        ``answer`` holds the till's points fields but ``balance`` and ``pending``, which
        are added here (``balance`` is the account's balance less what is pending or
        expired). With ``answer_to``, the whole answer is written there too.
        """
        params = {**params, "owner": self.member_id, "now": now}
        if not self.together:
            self.send()  # the lines are written first, so the account's statement sees them
            saved = self.conn.execute(SAVE, params).one()
            done = self._answer(answer, params, saved, 0, 0)
            if answer_to is not None:
                self.conn.execute(
                    _answer_update(answer_to),
                    {"answer_key": answer_to.key_value, "answer": {**answer_to.base, **done}},
                )
            return done
        params["lines_json"] = lines_json(self.rows, _LINE_NAMES, self.conn.dialect)
        params["takes_json"] = takes_json(self.takes)
        add_pending, add_expired = self.added(now)
        statement = SAVE_WITH_WRITES
        if answer_to is not None:
            statement = _with_answer(answer_to)
            params["answer_known"] = json.dumps({**answer_to.base, **answer})
            params["answer_key"] = answer_to.key_value
            params["answer_balance"] = params["new_balance"] - add_expired
            params["answer_add_pending"] = add_pending
        saved = self.conn.execute(statement, params).one()
        self.rows, self.takes = [], {}
        return self._answer(answer, params, saved, add_pending, add_expired)

    def plan_params(self, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters of :func:`receipt_writes`' CTEs for what is pending here."""
        params = {**params, "owner": self.member_id, "now": now}
        if self.together:
            names = [n for n in _LINE_NAMES if n != "source_id"]
            params["lines_json"] = lines_json(self.rows, names, self.conn.dialect)
            params["takes_json"] = takes_json(self.takes)
        return params

    def added(self, now: datetime) -> tuple[int, int]:
        """The points of the lines still to write that are pending, and expired, at ``now``
        (the statement's subqueries see the ledger as it was before them)."""
        pending = expired = 0
        for row in self.rows:
            if row["remaining"] <= 0:
                continue
            if row["expires_at"] is not None and row["expires_at"] <= now:
                expired += row["remaining"]
            elif row["available_at"] is not None and row["available_at"] > now:
                pending += row["remaining"]
        return pending, expired

    @staticmethod
    def _answer(
        answer: dict[str, Any],
        params: dict[str, Any],
        saved: Row[Any],
        add_pending: int,
        add_expired: int,
    ) -> dict[str, Any]:
        """``answer`` with the balance and pending points the saved account gives."""
        pending = int(saved.pending or 0) + add_pending
        expired = int(saved.expired or 0) + add_expired
        return {**answer, "balance": params["new_balance"] - pending - expired, "pending": pending}
