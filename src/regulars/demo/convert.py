"""Complete Journey files as frames in Regulars' import formats (``docs/import-formats.md``).

Each function takes the CJ frame (all text, with its file line numbers in ``__line``)
and returns a frame the generic importers load; rows that cannot be turned into a valid
line are reported in the ``Outcome`` with their CJ line, never dropped silently.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from regulars.core.i18n import _
from regulars.demo import rules
from regulars.imports.formats import LINE
from regulars.imports.outcome import Outcome, say

_MONEY = ("sales_value", "retail_disc", "coupon_disc", "coupon_match_disc")


def _cents(name: str) -> pl.Expr:
    return (pl.col(name).cast(pl.Float64, strict=False) * 100).round(0).cast(pl.Int64)


def _decimal(expr: pl.Expr, places: int) -> pl.Expr:
    """An integer of 10^-places units as decimal text (``1234`` → ``12.34``)."""
    unit = 10**places
    sign = pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (expr.abs() // unit).cast(pl.String)
    frac = (expr.abs() % unit).cast(pl.String).str.zfill(places)
    return pl.concat_str([sign, whole, pl.lit("."), frac])


def plain_ids(values: pl.Series) -> pl.Series:
    """Ids with those written in scientific notation read as the integers they stand for.

    products.csv was written by R, which writes a number in scientific notation when that
    is shorter and exact (``9e+05`` is product 900000); other text is left as it is.
    """
    written = values.filter(values.str.contains(r"^\d(\.\d+)?e\+\d+$")).unique().to_list()
    plain = {w: str(int(Decimal(w))) for w in written if Decimal(w) == Decimal(w).to_integral()}
    return values.replace(plain) if plain else values


def transactions_priced(frame: pl.DataFrame, outcome: Outcome) -> pl.DataFrame:
    """CJ transaction lines with quantity, unit price, discount and amount derived.

    See ``rules`` for the pricing rule and for lines that are no sale (nothing sold:
    reported, and their basket kept). Lines with an unusable basket id, a negative
    quantity or an unreadable number are reported as bad rows and their basket is left
    out. A product missing from products.csv is no fault of the line (``rules``: the
    demo adds it).
    """
    frame = frame.with_columns(plain_ids(frame["product_id"]))
    f = frame.with_columns(
        (pl.col("quantity").cast(pl.Float64, strict=False) * 1000)
        .round(0)
        .cast(pl.Int64)
        .alias("qty"),
        *(_cents(m).alias(f"{m}_c") for m in _MONEY),
    )
    f = f.with_columns(pl.sum_horizontal(*(pl.col(f"{m}_c") for m in _MONEY)).alias("gross"))
    # Smallest price in cents with quantity × price ≥ gross: integer ceiling division.
    f = f.with_columns((-((-pl.col("gross") * 1000) // pl.col("qty"))).alias("price"))
    f = f.with_columns(
        ((pl.col("qty") * pl.col("price") + 500) // 1000 - pl.col("sales_value_c")).alias("disc")
    )
    checks: list[tuple[str, pl.Expr, str]] = [
        (
            "household_id",
            ~pl.col("household_id").fill_null("").str.contains(r"^\d{1,8}$"),
            _("not a household id"),
        ),
        (
            "store_id",
            ~pl.col("store_id").fill_null("").str.contains(r"^\d{1,8}$"),
            _("not a store id"),
        ),
        (
            "basket_id",
            ~pl.col("basket_id").fill_null("").str.contains(r"^\d{1,20}$"),
            _("not a basket id"),
        ),
        (
            "product_id",
            ~pl.col("product_id").fill_null("").str.contains(r"^\d{1,12}$"),
            _("not a product id"),
        ),
        (
            "quantity",
            pl.col("qty").is_null() | (pl.col("qty") < 0),
            _("must be above 0 and at most 100000"),
        ),
        (
            "sales_value",
            pl.any_horizontal(*(pl.col(f"{m}_c").is_null() for m in _MONEY)),
            _("not a number"),
        ),
        (
            "sales_value",
            pl.any_horizontal(*(pl.col(f"{m}_c") < 0 for m in _MONEY)),
            _("not an amount (0 or more, 2 decimals at most)"),
        ),
        ("transaction_timestamp", pl.col("transaction_timestamp").is_null(), _("required")),
    ]
    for column, mask, reason in checks:
        outcome.add_frame(f.filter(mask.fill_null(True)), column=column, reason=say(reason))
    # As for any receipts file, a basket with a bad line is left out whole.
    bad = pl.col(LINE).is_in(list(outcome.bad_lines))
    spread = f.filter(bad)
    first_bad = spread.group_by("basket_id").agg(pl.col(LINE).min().alias("bad_line"))
    others = f.filter(~bad).join(first_bad, on="basket_id", how="inner")
    reason = say(_("receipt {no} has a bad line {line}"), no="{}", line="{}")
    outcome.add_frame(
        others,
        column="basket_id",
        reason=pl.format(reason, pl.col("basket_id"), pl.col("bad_line")),
    )
    # Nothing sold (rules: a coupon scanned alone): reported, not a fault of its basket.
    nothing = f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines)) & (pl.col("qty") == 0))
    outcome.add_frame(
        nothing.filter(pl.col("sales_value_c") == 0),
        column="quantity",
        reason=say(_("nothing sold (quantity 0): not a line of the receipt")),
    )
    outcome.add_frame(
        nothing.filter(pl.col("sales_value_c") != 0),
        column="quantity",
        reason=say(_("must be above 0 and at most 100000")),
    )
    return f.filter(~pl.col(LINE).is_in(list(outcome.bad_lines)))


def receipts_frame(priced: pl.DataFrame) -> pl.DataFrame:
    """Priced CJ lines as a receipts import: a basket is a receipt of store CJ<id>, till T01."""
    return priced.select(
        pl.col(LINE),
        (pl.lit(rules.STORE_PREFIX) + pl.col("store_id")).alias("store"),
        pl.lit(rules.TERMINAL).alias("terminal"),
        pl.col("basket_id").alias("receipt_no"),
        (pl.col("transaction_timestamp") + pl.lit("Z")).alias("occurred_at"),
        pl.lit(None, dtype=pl.String).alias("cashier"),
        pl.lit(None, dtype=pl.String).alias("member_card"),
        pl.lit(None, dtype=pl.String).alias("member_mobile"),
        (pl.lit(rules.MEMBER_REF_PREFIX) + pl.col("household_id")).alias("member_ref"),
        pl.lit(None, dtype=pl.String).alias("barcode"),
        (pl.lit(rules.SKU_PREFIX) + pl.col("product_id")).alias("sku"),
        _decimal(pl.col("qty"), 3).alias("quantity"),
        _decimal(pl.col("price"), 2).alias("unit_price"),
        _decimal(pl.col("disc"), 2).alias("discount"),
        _decimal(pl.col("sales_value_c"), 2).alias("amount"),
        pl.lit(None, dtype=pl.String).alias("payment_method"),
    )


def members_frame(households: list[int], demographics: pl.DataFrame) -> pl.DataFrame:
    """One member per household: demo mobile, reference ``cj-<id>`` and household data."""
    base = pl.DataFrame({"household_id": [str(h) for h in sorted(households)]})
    joined = base.join(demographics.drop(LINE, strict=False), on="household_id", how="left")
    return joined.select(
        pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias(LINE),
        pl.lit(None, dtype=pl.String).alias("card_no"),
        (pl.lit(rules.MOBILE_PREFIX) + pl.col("household_id").str.zfill(8)).alias("mobile"),
        (pl.lit(rules.MEMBER_REF_PREFIX) + pl.col("household_id")).alias("external_ref"),
        (pl.lit("CJ household ") + pl.col("household_id")).alias("name"),
        pl.col("household_size").str.strip_suffix("+").alias("household_size"),
        pl.col("household_comp").alias("household_composition"),
        pl.col("age").alias("age_band"),
        pl.col("income").alias("income_band"),
        pl.col("kids_count").alias("extra_kids_count"),
        pl.col("household_size").alias("extra_household_size_band"),
        pl.col("home_ownership").alias("extra_home_ownership"),
        pl.col("marital_status").alias("extra_marital_status"),
    )


def products_frame(products: pl.DataFrame, priced: pl.DataFrame) -> pl.DataFrame:
    """CJ products with demo barcodes, names, and prices observed in the transactions;
    a product the transactions name but products.csv lacks gets a row of its own, without
    a name (so it is to review), at the line of its first transaction (``rules``)."""
    products = products.with_columns(plain_ids(products["product_id"]))
    missing = (
        priced.filter(~pl.col("product_id").is_in(products["product_id"].implode()))
        .group_by("product_id", maintain_order=True)
        .agg(pl.col(LINE).min())
    )
    products = pl.concat([products, missing], how="diagonal_relaxed")
    observed = priced.group_by("product_id").agg(
        pl.col("price").median().round(0).cast(pl.Int64).alias("p")
    )
    f = products.join(observed, on="product_id", how="left")
    margin = pl.col("department").replace_strict(
        rules.MARGINS, default=rules.DEFAULT_MARGIN, return_dtype=pl.Float64
    )
    barcodes = [
        rules.barcode_for(int(p)) if p.isdigit() else None for p in f["product_id"].to_list()
    ]
    name = pl.coalesce(
        pl.col("product_type"),
        pl.col("product_category"),
        pl.col("department"),
    ).str.to_titlecase()
    return f.with_columns(pl.Series("barcode", barcodes, dtype=pl.String)).select(
        pl.col(LINE),
        (pl.lit(rules.SKU_PREFIX) + pl.col("product_id")).alias("sku"),
        pl.col("barcode"),
        pl.col("department")
        .replace_strict(rules.DEPARTMENT_ZH, default=None, return_dtype=pl.String)
        .alias("name_zh"),
        name.str.slice(0, 200).alias("name_en"),
        pl.col("department"),
        pl.col("product_category").alias("category"),
        pl.col("product_type").alias("subcategory"),
        pl.col("brand"),
        (pl.lit(rules.MANUFACTURER_PREFIX) + pl.col("manufacturer_id")).alias("manufacturer_code"),
        (pl.lit("CJ manufacturer ") + pl.col("manufacturer_id")).alias("manufacturer_name"),
        _decimal(pl.col("p"), 2).alias("unit_price"),
        # Rounded down: a 1-cent unit price (fuel sold by the hundredth of a gallon) must
        # not cost as much as it sells for.
        _decimal((pl.col("p") * (1 - margin)).floor().cast(pl.Int64), 2).alias("cost_price"),
        pl.col("package_size"),
        pl.when(pl.col("brand") == "Private")
        .then(pl.lit("private_label"))
        .otherwise(None)
        .alias("tags"),
    )
