"""Bulk load of receipts: one row per line, grouped into receipts by (store, terminal, no).

How it goes, and why:

* Lines are checked column by column (``receipt_checks``), then receipt by receipt: the
  lines of one receipt must agree on its time, member, cashier and payment method. If one
  line of a receipt is bad, the whole receipt is left out and each of its other lines is
  reported with the reason "receipt … has a bad line N", so nothing is lost silently.
* Unknown stores and tills are created (a history file from old tills names tills the
  CRM has never seen); unknown products and members are bad rows (load them first).
* A receipt already recorded with the same content is *unchanged*; the same key with
  other content is a bad row (a conflict), never an overwrite. ``content_hash`` is the
  SHA-256 of the receipt's canonical content (``receipt_rows``). A receipt a till
  recorded has the till's hash, so it is compared as stored (``sales.content``): the
  same checkout from a till's journal, or a day's file imported after its tills sent
  it, is unchanged too.
* Nothing on the hot path runs per line or per value in Python: checks, grouping,
  totals, canonical strings, the ``payments`` JSON and the stored
  timestamps are Polars expressions (``receipt_rows``); products, members and already
  recorded receipts are looked up with one statement per list (``bulk``).
* Receipt ids are reserved before the insert (``bulk.reserve_ids``), so lines need no
  RETURNING. Rows go to the driver as stored: ``COPY`` on PostgreSQL, ``executemany``
  on SQLite (``bulk.write_rows``), committed batch by batch (``BATCH_RECEIPTS``).
  Receipts already recorded are found batch by batch (``_known``), each batch in its
  import's turn (``bulk.import_turn``), so two imports at once take turns and the
  second finds what the first wrote. A till takes no turn: a receipt it records between
  the look-up and the write makes the write fail on the key, which undoes the batch's
  writes alone (``bulk.key_guard``); the batch looks again and writes the rest.
  Receipts are written in time order, so receipt ids follow ``occurred_at`` within one
  import.
* Before writing, each batch locks the stores, tills, members and products it names, one
  statement per table, and leaves out receipts whose parent has gone since the file was
  resolved (reported as bad rows); on PostgreSQL it then writes without the foreign keys'
  per-row triggers when the role may turn them off (``receipt_refs``).
* Members' first purchase only ever moves earlier, as at the till; each batch moves it
  for its own members in one statement (``first_purchases``), before its commit, skipping
  members an earlier batch of the import wrote (their purchase there is no later).
* Points are not earned by imported receipts (history is not a checkout; the loyalty
  ledger only records till sales and staff adjustments or grant files).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import insert, select

from regulars.catalog.models import Store, Terminal
from regulars.core.crypto import get_cipher
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk, checks
from regulars.imports.first_purchases import first_purchases_note
from regulars.imports.formats import LINE
from regulars.imports.outcome import Checkpoint, Outcome, Progress, say
from regulars.imports.receipt_checks import bad, lines_check, spread_bad_receipts
from regulars.imports.receipt_refs import RowTriggers, parents_lock
from regulars.imports.receipt_rows import (
    KEY,
    line_rows,
    receipt_heads,
    receipt_rows,
)
from regulars.sales.content import TILL, Content, stored_contents

# Receipts per batch, each one transaction, by database. SQLite holds its one write lock
# for a whole batch, so tills wait while it runs: small batches. On PostgreSQL tills write
# beside a batch (its key-share locks only stop deletes of the parents), and every batch
# locks its parents again, moves its members' first purchase and commits (the demo file's
# 46,830 receipts, best of 4: batches of 5,000 2.04 s, 10,000 1.90 s, 25,000 1.77 s).
BATCH_RECEIPTS = {"sqlite": 5000, "postgresql": 20_000}
KNOWN_CHUNK = 50_000
# Looks again after a till took a key meanwhile: each look finds the receipts committed
# since, so one is enough unless tills keep writing the file's own keys; past this many
# the batch fails rather than looping.
KEY_RETRIES = 5
HEADER = ["occurred_at", "member_key", "cashier", "payment_method"]


@dataclass
class ReceiptsResult:
    """What the receipts loader leaves for later steps: the members it touched.

    ``row_triggers_skipped``: whether its rows were written without per-row foreign key
    triggers (PostgreSQL, when permitted; see ``receipt_refs``).
    """

    member_ids: set[int]
    row_triggers_skipped: bool = False


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
    bad(
        outcome,
        checked,
        pl.col("product_id").is_null() & pl.col("barcode").is_not_null(),
        "barcode",
        say(_("product not found")),
    )
    bad(
        outcome,
        checked,
        pl.col("product_id").is_null() & pl.col("barcode").is_null(),
        "sku",
        say(_("product not found")),
    )
    for name in ("member_card", "member_mobile", "member_ref"):
        bad(
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
        bad(outcome, joined, differs, name, reason)
    bad(
        outcome,
        joined,
        pl.col("n") > checks.MAX_LINES,
        "receipt_no",
        say(_("a receipt has at most {n} lines"), n=checks.MAX_LINES),
    )


def places_ensure(
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
    """``heads`` with ``known_hash``, ``known_id`` and ``known_source`` of receipts already
    recorded under their keys (null for new ones), one statement per ``KNOWN_CHUNK``."""
    keys = heads.select("store_id", "terminal_id", "receipt_no")
    found = pl.concat(
        [
            bulk.existing_receipts(uow, keys.slice(start, KNOWN_CHUNK))
            for start in range(0, max(keys.height, 1), KNOWN_CHUNK)
        ]
    )
    return heads.join(found, on=["terminal_id", "receipt_no"], how="left", maintain_order="left")


def _same_as_till(uow: UnitOfWork, batch: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """``batch`` (from :func:`_known`) with ``known_hash`` set to ``hash`` where a till
    recorded the same checkout: its hash is the till's, so it is compared as stored.

    Only receipts whose key a till took are read (their rows, two statements): a day's
    file imported after its tills sent most of it, or a till's journal after an outage.
    """
    tilled = batch.filter(
        (pl.col("known_source") == TILL) & (pl.col("known_hash") != pl.col("hash"))
    )
    if tilled.is_empty():
        return batch
    stored = stored_contents(uow, tilled["known_id"].to_list())
    wanted = tilled.select(pl.col("lines").explode().alias(LINE))
    by_line = {
        int(row[0]): (int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]))
        for row in lines.join(wanted, on=LINE, how="semi")
        .select(LINE, "product_id", "qty", "price", "disc", "amt")
        .iter_rows()
    }
    same: list[int] = []
    for head in tilled.iter_rows(named=True):
        method = head["payment_method"]
        content = Content(
            occurred_at=head["at"],
            member_id=head["member_id"],
            cashier=head["cashier"],
            payments=((str(method), int(head["total"])),) if method else (),
            lines=tuple(by_line[n] for n in sorted(head["lines"])),
        )
        if stored.get(head["known_id"]) == content:
            same.append(int(head["known_id"]))
    return batch.with_columns(
        pl.when(pl.col("known_id").is_in(same))
        .then(pl.col("hash"))
        .otherwise(pl.col("known_hash"))
        .alias("known_hash")
    )


def _sort_out(
    uow: UnitOfWork, heads: pl.DataFrame, lines: pl.DataFrame, outcome: Outcome
) -> pl.DataFrame:
    """The receipts of ``heads`` not recorded yet. Those recorded with the same content are
    counted unchanged; those recorded with other content are bad rows (a conflict)."""
    batch = _same_as_till(uow, _known(uow, heads), lines)
    same = batch.filter(pl.col("known_hash") == pl.col("hash"))
    clash = batch.filter(
        pl.col("known_hash").is_not_null() & (pl.col("known_hash") != pl.col("hash"))
    )
    outcome.unchanged += int(same["line_count"].sum() or 0)
    conflict = say(_("receipt {no} was already recorded with different content"), no="{}")
    outcome.add_frame(
        clash.explode("lines").rename({"lines": LINE}),
        column="receipt_no",
        reason=pl.format(conflict, pl.col("receipt_no")),
    )
    return batch.filter(pl.col("known_hash").is_null()).drop(
        "known_hash", "known_id", "known_source"
    )


def _insert(
    uow: UnitOfWork,
    heads: pl.DataFrame,
    lines: pl.DataFrame,
    *,
    source: str,
    now: datetime,
    triggers: RowTriggers,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Insert a batch of new receipts and their lines; return both (heads with ``id``).

    The parents of ``lines`` are locked (``receipt_refs.parents_lock``), so the rows are
    written without per-row foreign key triggers where the database allows it.
    """
    heads = heads.with_columns(bulk.reserve_ids(uow, "receipt", heads.height))
    rows = receipt_rows(
        heads,
        source=source,
        recorded_at=now,
        postgres=bulk.is_pg(uow),
    )
    written = line_rows(lines, heads)
    with bulk.write_cache(uow), triggers.skipped(uow):
        bulk.write_rows(uow, "receipt", rows)
        bulk.write_rows(uow, "receipt_line", written)
    return heads.select("id", "member_id", "at"), written


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
    f = lines_check(frame, outcome)
    f = _resolve(uow, f, outcome)
    _consistency(f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines))), outcome)
    good = spread_bad_receipts(f, outcome)
    bulk.import_turn(uow, bulk.waiting_report(progress, 0, good.height))
    places = places_ensure(uow, good, is_demo=is_demo)
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
    # Receipts go in time order (the file's order among equal times): each member's
    # earliest sale comes in the first batch that has the member, so later batches leave
    # the first purchase alone, and the time index is written at its end.
    heads = receipt_heads(good).sort("at", maintain_order=True)
    members: set[int] = set()
    total_lines = good.height
    done_lines = 0
    now = utcnow()
    triggers = RowTriggers()
    size = BATCH_RECEIPTS["postgresql" if bulk.is_pg(uow) else "sqlite"]
    for start in range(0, heads.height, size):
        # Receipts already recorded are looked for in the batch's own turn, so another
        # import's receipts written since are found, not written twice.
        bulk.import_turn(uow, bulk.waiting_report(progress, done_lines, total_lines))
        batch = heads.slice(start, size)
        fresh = _sort_out(uow, batch, good, outcome)
        named = good.join(fresh.select(KEY), on=KEY, how="semi")
        lines = parents_lock(uow, named, outcome)
        if lines.height < named.height:
            fresh = fresh.join(lines.select(KEY), on=KEY, how="semi", maintain_order="left")
        retries = 0
        while fresh.height:
            try:
                with bulk.key_guard(uow):
                    heads_written, lines_written = _insert(
                        uow, fresh, lines, source=source, now=now, triggers=triggers
                    )
            except bulk.KeyTaken:
                # A till recorded one of them since: look again, write the others.
                retries += 1
                if retries > KEY_RETRIES:
                    raise
                fresh = _sort_out(uow, fresh, good, outcome)
                lines = lines.join(fresh.select(KEY), on=KEY, how="semi")
                continue
            # A member of an earlier batch already has a purchase no later than this one.
            first_purchases_note(
                uow, heads_written.filter(~pl.col("member_id").is_in(list(members))), lines_written
            )
            outcome.loaded += lines.height
            members.update(fresh["member_id"].drop_nulls().unique().to_list())
            break
        uow.flush()
        if checkpoint is not None:
            checkpoint()
        done_lines += int(batch["line_count"].sum() or 0)
        if progress is not None:
            progress("receipts", done_lines, total_lines)
    return ReceiptsResult(member_ids=members, row_triggers_skipped=bool(triggers.skipping))
