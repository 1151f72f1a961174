"""Bulk load of receipts: one row per line, grouped into receipts by (store, terminal, no).

How it goes, and why:

* Lines are checked column by column (``checks``), then receipt by receipt: the lines of
  one receipt must agree on its time, member, cashier and payment method. If one line of
  a receipt is bad, the whole receipt is left out and each of its other lines is reported
  with the reason "receipt … has a bad line N", so nothing is lost silently.
* Unknown stores and tills are created (a history file from old tills names tills the
  CRM has never seen); unknown products and members are bad rows (load them first).
* A receipt already recorded with the same content is *unchanged*; the same key with
  other content is a bad row (a conflict), never an overwrite. ``content_hash`` is the
  SHA-256 of the receipt's canonical content (``receipt_rows``).
* Nothing on the hot path runs per line or per value in Python: checks, grouping,
  totals, canonical strings, the ``payments`` and ``response`` JSON and the stored
  timestamps are Polars expressions (``receipt_rows``); products, members and already
  recorded receipts are looked up with one statement per list (``bulk``).
* Receipt ids are reserved before the insert (``bulk.reserve_ids``), so each receipt's
  stored ``response`` (shaped like ``ReceiptAnswer``) is written in the same insert and
  lines need no RETURNING. Rows go to the driver as stored: ``COPY`` on PostgreSQL,
  ``executemany`` on SQLite (``bulk.write_rows``), committed batch by batch. Receipts
  already recorded are found once, before the first batch (``_known``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import aliased

from regulars.catalog.models import Product, Store, Terminal
from regulars.core.crypto import get_cipher
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk, checks
from regulars.imports.formats import LINE
from regulars.imports.outcome import Checkpoint, Outcome, Progress, say
from regulars.imports.receipt_rows import (
    KEY,
    line_rows,
    receipt_heads,
    receipt_rows,
)
from regulars.members.models import Member
from regulars.sales.models import Receipt, ReceiptLine
from regulars.sales.schemas import ReceiptAnswer

BATCH_RECEIPTS = 5000
KNOWN_CHUNK = 50_000
HEADER = ["occurred_at", "member_key", "cashier", "payment_method"]


@dataclass
class ReceiptsResult:
    """What the receipts loader leaves for later steps: the members it touched."""

    member_ids: set[int]


def _bad(
    outcome: Outcome, frame: pl.DataFrame, mask: pl.Expr, column_name: str, reason: str | pl.Expr
) -> None:
    outcome.add_frame(frame.filter(mask), column=column_name, reason=reason)


def _validate(frame: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """Parse and check every line; return the frame with parsed columns added."""
    occurred, naive = checks.timestamp("occurred_at")
    mobile_map = checks.mobiles(frame["member_mobile"])
    f = frame.with_columns(
        occurred.alias("at"),
        naive.alias("naive"),
        checks.scaled("quantity", 3).alias("qty"),
        checks.scaled("unit_price", 2).alias("price"),
        pl.when(pl.col("discount").is_null())
        .then(0)
        .otherwise(checks.scaled("discount", 2))
        .alias("disc"),
        checks.scaled("amount", 2, signed=True).alias("amt"),
        pl.col("member_mobile")
        .replace_strict(mobile_map, default=None, return_dtype=pl.String)
        .alias("mobile_e164"),
        checks.barcode("barcode").alias("barcode_n"),
    )
    f = f.with_columns(
        ((pl.col("qty") * pl.col("price") + 500) // 1000 - pl.col("disc")).alias("expected")
    )
    members_given = (
        pl.col("member_card").is_not_null().cast(pl.Int8)
        + pl.col("member_mobile").is_not_null().cast(pl.Int8)
        + pl.col("member_ref").is_not_null().cast(pl.Int8)
    )
    rules: list[tuple[str, pl.Expr, str | pl.Expr]] = [
        ("store", pl.col("store").is_null(), say(_("required"))),
        ("store", ~pl.col("store").str.contains(checks.CODE), say(_("not a valid code"))),
        ("terminal", pl.col("terminal").is_null(), say(_("required"))),
        ("terminal", ~pl.col("terminal").str.contains(checks.CODE), say(_("not a valid code"))),
        ("receipt_no", pl.col("receipt_no").is_null(), say(_("required"))),
        (
            "receipt_no",
            ~pl.col("receipt_no").str.contains(checks.RECEIPT_NO),
            say(_("not a valid receipt number")),
        ),
        ("occurred_at", pl.col("occurred_at").is_null(), say(_("required"))),
        ("occurred_at", pl.col("naive"), say(_("must carry a time zone (e.g. +08:00 or Z)"))),
        (
            "occurred_at",
            pl.col("occurred_at").is_not_null() & ~pl.col("naive") & pl.col("at").is_null(),
            say(_("not a date-time")),
        ),
        (
            "cashier",
            pl.col("cashier").str.len_chars() > 64,
            say(_("longer than {limit} characters"), limit=64),
        ),
        (
            "member_card",
            members_given > 1,
            say(_("give one of member_card, member_mobile or member_ref")),
        ),
        (
            "member_card",
            pl.col("member_card").is_not_null()
            & ~pl.col("member_card").str.contains(checks.CARD_NO),
            say(_("not a card number")),
        ),
        (
            "member_mobile",
            pl.col("member_mobile").is_not_null() & pl.col("mobile_e164").is_null(),
            say(_("not a mobile number")),
        ),
        (
            "barcode",
            pl.col("barcode").is_null() & pl.col("sku").is_null(),
            say(_("a line needs a barcode or a sku")),
        ),
        (
            "barcode",
            pl.col("barcode").is_not_null() & pl.col("barcode_n").is_null(),
            say(_("not a valid EAN-13, EAN-8 or UPC-A barcode")),
        ),
        (
            "sku",
            pl.col("sku").is_not_null() & ~pl.col("sku").str.contains(checks.CODE),
            say(_("not a valid SKU")),
        ),
        ("quantity", pl.col("quantity").is_null(), say(_("required"))),
        (
            "quantity",
            pl.col("quantity").is_not_null() & pl.col("qty").is_null(),
            say(_("not a number with at most 3 decimals")),
        ),
        (
            "quantity",
            (pl.col("qty") <= 0) | (pl.col("qty") > checks.MAX_QTY_MILLI),
            say(_("must be above 0 and at most 100000")),
        ),
        ("unit_price", pl.col("unit_price").is_null(), say(_("required"))),
        (
            "unit_price",
            pl.col("unit_price").is_not_null() & pl.col("price").is_null(),
            say(_("not an amount (0 or more, 2 decimals at most)")),
        ),
        ("unit_price", pl.col("price") > checks.MAX_MONEY_CENTS, say(_("too large"))),
        (
            "discount",
            pl.col("disc").is_null(),
            say(_("not an amount (0 or more, 2 decimals at most)")),
        ),
        ("amount", pl.col("amount").is_null(), say(_("required"))),
        (
            "amount",
            pl.col("amount").is_not_null() & pl.col("amt").is_null(),
            say(_("not an amount (2 decimals at most)")),
        ),
        ("amount", pl.col("amt").abs() > checks.MAX_MONEY_CENTS, say(_("too large"))),
        (
            "amount",
            (pl.col("expected") - pl.col("amt")).abs() > 1,
            pl.format(
                say(_("amount {a} is not quantity × unit_price − discount ({b})"), a="{}", b="{}"),
                pl.col("amt") / 100,
                pl.col("expected") / 100,
            ),
        ),
        (
            "payment_method",
            pl.col("payment_method").is_not_null()
            & ~pl.col("payment_method").is_in(checks.PAYMENT_METHODS),
            say(_("not a payment method")),
        ),
    ]
    for name, mask, reason in rules:
        _bad(outcome, f, mask.fill_null(False), name, reason)
    member_key = (
        pl.when(pl.col("member_card").is_not_null())
        .then(pl.lit("card:") + pl.col("member_card"))
        .when(pl.col("mobile_e164").is_not_null())
        .then(pl.lit("mobile:") + pl.col("mobile_e164"))
        .when(pl.col("member_ref").is_not_null())
        .then(pl.lit("ref:") + pl.col("member_ref"))
        .otherwise(None)
    )
    return f.with_columns(member_key.alias("member_key"))


def _resolve(uow: UnitOfWork, f: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """Add product and member ids; unknown products and members are bad rows."""
    good = f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines)))
    ids = {"key": pl.String, "id": pl.Int64}
    by_barcode, by_sku = (
        dict(
            bulk.fetch_in(
                uow,
                f"SELECT {col}, id FROM product WHERE {col} {{values}}",
                good[name].drop_nulls().unique().to_list(),
                ids,
            ).rows()
        )
        for col, name in (("barcode", "barcode_n"), ("sku", "sku"))
    )
    members: dict[str, int] = {}
    cipher = get_cipher()
    wanted = good["member_key"].drop_nulls().unique().to_list()
    for prefix, col in (
        ("card:", "card_no"),
        ("mobile:", "mobile_index"),
        ("ref:", "external_ref"),
    ):
        raw = [k.removeprefix(prefix) for k in wanted if k.startswith(prefix)]
        lookup = (
            {cipher.blind_index(r): r for r in raw} if prefix == "mobile:" else {r: r for r in raw}
        )
        # A merged member's keys name the survivor; only active members can buy.
        found = bulk.fetch_in(
            uow,
            f"SELECT m.{col}, coalesce(t.id, m.id), coalesce(t.status, m.status)"
            f" FROM member m LEFT JOIN member t ON t.id = m.merged_into_id"
            f" WHERE m.{col} {{values}}",
            list(lookup),
            {"key": pl.String, "id": pl.Int64, "status": pl.String},
        )
        for key, member_id, status in found.rows():
            if status == "active":
                members[prefix + lookup[key]] = member_id
    f = f.with_columns(
        pl.coalesce(
            pl.col("barcode_n").replace_strict(by_barcode, default=None, return_dtype=pl.Int64),
            pl.col("sku").replace_strict(by_sku, default=None, return_dtype=pl.Int64),
        ).alias("product_id"),
        pl.col("member_key")
        .replace_strict(members, default=None, return_dtype=pl.Int64)
        .alias("member_id"),
    )
    checked = f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines)))
    _bad(
        outcome,
        checked,
        pl.col("product_id").is_null() & pl.col("barcode").is_not_null(),
        "barcode",
        say(_("product not found")),
    )
    _bad(
        outcome,
        checked,
        pl.col("product_id").is_null() & pl.col("barcode").is_null(),
        "sku",
        say(_("product not found")),
    )
    for name in ("member_card", "member_mobile", "member_ref"):
        _bad(
            outcome,
            checked,
            pl.col("member_id").is_null() & pl.col(name).is_not_null(),
            name,
            say(_("member not found")),
        )
    return f


def _consistency(f: pl.DataFrame, outcome: Outcome) -> None:
    """Lines of one receipt must agree on its header; a receipt has at most 500 lines."""
    first = f.group_by(KEY, maintain_order=True).agg(
        pl.col(LINE).first().alias("first_line"),
        *(pl.col(h).first().alias(f"first_{h}") for h in HEADER),
        pl.len().alias("n"),
    )
    joined = f.join(first, on=KEY, how="left", nulls_equal=False)
    for h in HEADER:
        name = "member_card" if h == "member_key" else h
        differs = ~pl.col(h).eq_missing(pl.col(f"first_{h}"))
        reason = pl.format(
            say(_("differs from line {line} of the same receipt"), line="{}"), pl.col("first_line")
        )
        _bad(outcome, joined, differs, name, reason)
    _bad(
        outcome,
        joined,
        pl.col("n") > checks.MAX_LINES,
        "receipt_no",
        say(_("a receipt has at most {n} lines"), n=checks.MAX_LINES),
    )


def _spread_bad_receipts(f: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """Leave out whole receipts with a bad line, reporting their other lines; return the rest."""
    bad = pl.col(LINE).is_in(list(outcome.bad_lines))
    keyed = f.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in KEY))
    first_bad = keyed.filter(bad).group_by(KEY).agg(pl.col(LINE).min().alias("bad_line"))
    others = keyed.filter(~bad).join(first_bad, on=KEY, how="inner")
    reason = pl.format(
        say(_("receipt {no} has a bad line {line}"), no="{}", line="{}"),
        pl.col("receipt_no"),
        pl.col("bad_line"),
    )
    outcome.add_frame(others, column="receipt_no", reason=reason)
    return f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines)))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _places(
    uow: UnitOfWork, good: pl.DataFrame, *, is_demo: bool
) -> dict[tuple[str, str], tuple[int, int]]:
    """(store, terminal) codes to ids, creating unknown stores and tills."""
    pairs = good.select("store", "terminal").unique().rows()
    stores = {str(c): int(i) for c, i in uow.session.execute(select(Store.code, Store.id))}
    new_stores = sorted({s for s, _t in pairs if s not in stores})
    if new_stores:
        made = uow.session.execute(
            insert(Store).returning(Store.code, Store.id, sort_by_parameter_order=True),
            [{"code": s, "name": s, "is_demo": is_demo} for s in new_stores],
        )
        stores.update({str(c): int(i) for c, i in made})
    tills = {
        (int(s), str(c)): int(i)
        for s, c, i in uow.session.execute(select(Terminal.store_id, Terminal.code, Terminal.id))
    }
    new_tills = sorted({(stores[s], t) for s, t in pairs if (stores[s], t) not in tills})
    if new_tills:
        now = utcnow()
        created = uow.session.execute(
            insert(Terminal).returning(
                Terminal.store_id, Terminal.code, Terminal.id, sort_by_parameter_order=True
            ),
            [{"store_id": s, "code": t, "created_at": now} for s, t in new_tills],
        )
        tills.update({(int(s), str(c)): int(i) for s, c, i in created})
    return {(s, t): (stores[s], tills[(stores[s], t)]) for s, t in pairs}


def _known(uow: UnitOfWork, heads: pl.DataFrame) -> pl.DataFrame:
    """``heads`` with ``known_hash``: the content hash of receipts already recorded.

    One statement per ``KNOWN_CHUNK`` receipts. Two imports racing with the same receipt
    cannot both insert it: the second one's write fails on the unique key and its batch
    rolls back, and running the file again reports it as unchanged.
    """
    keys = heads.select("store_id", "terminal_id", "receipt_no")
    found = pl.concat(
        [
            bulk.existing_receipts(uow, keys.slice(start, KNOWN_CHUNK))
            for start in range(0, max(keys.height, 1), KNOWN_CHUNK)
        ]
    )
    return heads.join(found, on=["terminal_id", "receipt_no"], how="left", maintain_order="left")


def _answer_time(now: datetime) -> str:
    """``now`` as ``ReceiptAnswer`` writes ``recorded_at`` in JSON."""
    return str(
        ReceiptAnswer(
            receipt_id=0,
            kind="sale",
            store="",
            terminal="",
            receipt_no="",
            member_id=None,
            total=Decimal(0),
            line_count=0,
            recorded_at=now,
        ).model_dump(mode="json")["recorded_at"]
    )


def _insert(
    uow: UnitOfWork, heads: pl.DataFrame, lines: pl.DataFrame, *, source: str, now: datetime
) -> None:
    """Insert a batch of new receipts and their lines."""
    heads = heads.with_columns(bulk.reserve_ids(uow, "receipt", heads.height))
    rows = receipt_rows(
        heads,
        source=source,
        recorded_at=now,
        recorded_json=_answer_time(now),
        postgres=bulk.is_pg(uow),
    )
    bulk.write_rows(uow, "receipt", rows)
    bulk.write_rows(uow, "receipt_line", line_rows(lines, heads))


def first_purchases_refresh(uow: UnitOfWork, member_ids: set[int]) -> None:
    """Set members' first purchase from their earliest sale, set-based.

    The category is the department of the earliest receipt's largest line, as the till
    path derives it one receipt at a time. Only receipts at the earliest time are sorted
    (found through ``ix_receipt_member_time``), not every line the member ever bought.
    """

    def earliest_sale(of: type[Receipt]) -> Any:
        return (
            select(func.min(of.occurred_at))
            .where(of.member_id == Member.id, of.kind == "sale")
            .correlate(Member)
            .scalar_subquery()
        )

    earliest = earliest_sale(Receipt)
    department = (
        select(Product.department)
        .join(ReceiptLine, ReceiptLine.product_id == Product.id)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(
            Receipt.member_id == Member.id,
            Receipt.kind == "sale",
            Receipt.occurred_at == earliest_sale(aliased(Receipt)),
        )
        .order_by(Receipt.occurred_at, Receipt.id, ReceiptLine.amount.desc(), ReceiptLine.line_no)
        .limit(1)
        .scalar_subquery()
    )
    for chunk in _chunks(sorted(member_ids), 5000):
        uow.session.execute(
            update(Member)
            .where(Member.id.in_(chunk))
            .values(first_purchase_at=earliest, first_purchase_category=department)
            .execution_options(synchronize_session=False)
        )


def receipts_load(
    uow: UnitOfWork,
    frame: pl.DataFrame,
    *,
    outcome: Outcome,
    source: str = "import",
    is_demo: bool = False,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> ReceiptsResult:
    """Load receipt lines (see the module docstring)."""
    outcome.total += frame.height
    f = _validate(frame, outcome)
    f = _resolve(uow, f, outcome)
    _consistency(f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines))), outcome)
    good = _spread_bad_receipts(f, outcome)
    places = _places(uow, good, is_demo=is_demo)
    ids = pl.DataFrame(
        [(s, t, a, b) for (s, t), (a, b) in places.items()],
        schema={
            "store": pl.String,
            "terminal": pl.String,
            "store_id": pl.Int64,
            "terminal_id": pl.Int64,
        },
        orient="row",
    )
    good = good.join(ids, on=["store", "terminal"], how="left", maintain_order="left")
    heads = _known(uow, receipt_heads(good))
    members: set[int] = set()
    total_lines = good.height
    done_lines = 0
    now = utcnow()
    conflict = say(_("receipt {no} was already recorded with different content"), no="{}")
    for start in range(0, heads.height, BATCH_RECEIPTS):
        batch = heads.slice(start, BATCH_RECEIPTS)
        same = batch.filter(pl.col("known_hash") == pl.col("hash"))
        clash = batch.filter(
            pl.col("known_hash").is_not_null() & (pl.col("known_hash") != pl.col("hash"))
        )
        fresh = batch.filter(pl.col("known_hash").is_null())
        outcome.unchanged += int(same["line_count"].sum() or 0)
        outcome.add_frame(
            clash.explode("lines").rename({"lines": LINE}),
            column="receipt_no",
            reason=pl.format(conflict, pl.col("receipt_no")),
        )
        if fresh.height:
            lines = good.join(fresh.select(KEY), on=KEY, how="semi")
            _insert(uow, fresh, lines, source=source, now=now)
            outcome.loaded += lines.height
            members.update(fresh["member_id"].drop_nulls().unique().to_list())
        uow.flush()
        if checkpoint is not None:
            checkpoint()
        done_lines += int(batch["line_count"].sum() or 0)
        if progress is not None:
            progress("receipts", done_lines, total_lines)
    if members:
        first_purchases_refresh(uow, members)
        uow.flush()
    return ReceiptsResult(member_ids=members)
