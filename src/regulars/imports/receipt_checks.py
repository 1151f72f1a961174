"""Checks of the lines of a receipts file, column by column (see ``checks``).

Every rule is a Polars mask over the whole frame with the reason it gives; a line that
breaks several rules is reported once per rule, so the report names every fault.
"""

from __future__ import annotations

import polars as pl

from regulars.core.i18n import _
from regulars.imports import checks
from regulars.imports.formats import LINE, RECEIPT_COLUMNS
from regulars.imports.outcome import NUL, Outcome, say
from regulars.imports.receipt_rows import KEY

__all__ = ["bad", "lines_check", "spread_bad_receipts"]


def bad(
    outcome: Outcome, frame: pl.DataFrame, mask: pl.Expr, column_name: str, reason: str | pl.Expr
) -> None:
    outcome.add_frame(frame.filter(mask), column=column_name, reason=reason)


def spread_bad_receipts(f: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """Leave out whole receipts with a bad line, reporting their other lines; return the rest."""
    is_bad = pl.col(LINE).is_in(list(outcome.bad_lines))
    keyed = f.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in KEY))
    first_bad = keyed.filter(is_bad).group_by(KEY).agg(pl.col(LINE).min().alias("bad_line"))
    others = keyed.filter(~is_bad).join(first_bad, on=KEY, how="inner")
    reason = pl.format(
        say(_("receipt {no} has a bad line {line}"), no="{}", line="{}"),
        pl.col("receipt_no"),
        pl.col("bad_line"),
    )
    outcome.add_frame(others, column="receipt_no", reason=reason)
    return f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines)))


def lines_check(frame: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """Parse and check every line; return the frame with parsed columns added.

    Bad lines go to ``outcome`` (line, column, reason); the frame keeps every line, with
    ``at``, ``qty``, ``price``, ``disc``, ``amt``, ``mobile_e164``, ``barcode_n`` and
    ``member_key`` (``card:…``, ``mobile:…`` or ``ref:…``) added.
    """
    mobile_map = checks.mobiles(frame["member_mobile"])
    f = frame.with_columns(
        checks.timestamp("occurred_at").alias("at"),
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
    refused = f.filter(pl.col("at").is_null() & pl.col("occurred_at").is_not_null())
    naive = refused.filter(checks.naive_timestamp("occurred_at"))[LINE]
    f = f.with_columns(
        pl.col(LINE).is_in(naive.to_list()).alias("naive"),
        ((pl.col("qty") * pl.col("price") + 500) // 1000 - pl.col("disc")).alias("expected"),
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
    rules += [
        (name, pl.col(name).str.contains(NUL, literal=True), say(_("contains a NUL character")))
        for name in RECEIPT_COLUMNS
    ]
    for name, mask, reason in rules:
        bad(outcome, f, mask.fill_null(False), name, reason)
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
