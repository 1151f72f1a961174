"""Household life stage: signals such as a baby or a dog, inferred from what a member buys.

A :class:`SignalRule` names keywords matched case-insensitively as substrings of the
product's department, category or subcategory, and catalogue tags matched whole (the
``tags`` column is comma-separated). A member's sold lines (quantity > 0) in
``[as_of − window_days, as_of)`` are counted; the signal is detected when at least
``min_lines`` of them match and they are at least ``min_share`` of the member's lines. The
``score`` is that share; ``evidence`` says how many lines matched and in which categories
(at most three, alphabetical), for the marketer who wonders why.

Children's and pets' data are sensitive (PIPL art. 28 treats minors' data as sensitive):
only members whose ``consent_analytics`` is true are returned, and the rules read product
categories, never free text about the member.

The default rules were written against the Complete Journey catalogue (e.g. BABY FOODS,
DIAPERS & DISPOSABLES, INFANT FORMULA, KIDS CEREAL, DOG FOODS, CAT LITTER) and checked
against its demographics (households with kids vs a baby or young-children signal) in
``tests/analytics/test_lifestage.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from regulars.analytics.frames import LINES, MEMBERS, PRODUCTS, require
from regulars.analytics.rfm import epoch_us

__all__ = [
    "DEFAULT_RULES",
    "FIELDS",
    "LIFE_STAGE",
    "SIGNAL_NAMES",
    "SignalRule",
    "life_stage",
    "match_expression",
    "unique_signals",
]

#: The product columns a rule's keywords may name.
FIELDS = ("department", "category", "subcategory")

#: The output columns of :func:`life_stage` (long format: one row per detected signal).
LIFE_STAGE: Mapping[str, pl.DataType] = {
    "member_id": pl.Int64(),
    "signal": pl.String(),
    "score": pl.Float64(),
    "evidence": pl.String(),
}

#: Signal code → (English, 中文); the lead copies them into the catalogue.
SIGNAL_NAMES: Mapping[str, tuple[str, str]] = {
    "baby": ("Baby in the household", "家有婴儿"),
    "young_children": ("Young children", "家有幼儿"),
    "pet_dog": ("Dog owner", "养狗"),
    "pet_cat": ("Cat owner", "养猫"),
    "pet_other": ("Other pets (birds, fish, small animals)", "其他宠物（鸟、鱼、小动物）"),
}


@dataclass(frozen=True)
class SignalRule:
    """Which products point to ``signal``, and how many of them make it a signal."""

    signal: str
    keywords: Mapping[str, Sequence[str]] = field(default_factory=dict)  # field → substrings
    tags: Sequence[str] = ()
    exclude: Mapping[str, Sequence[str]] = field(default_factory=dict)
    min_lines: int = 2
    min_share: float = 0.0

    def __post_init__(self) -> None:
        """Reject keywords on a column the rules cannot read."""
        unknown = (set(self.keywords) | set(self.exclude)) - set(FIELDS)
        if unknown:
            raise ValueError(f"SignalRule {self.signal}: unknown field(s) {sorted(unknown)}")


DEFAULT_RULES: tuple[SignalRule, ...] = (
    SignalRule(
        "baby",
        keywords={"category": ("baby", "diaper", "infant")},
        tags=("baby", "infant"),
    ),
    SignalRule(
        "young_children",
        keywords={"subcategory": ("kids", "children", "toddler", "juvenile", "preschool")},
        tags=("kids", "children"),
    ),
    SignalRule(
        "pet_dog",
        keywords={"category": ("dog food",), "subcategory": ("rawhide", "dog treat")},
        tags=("dog",),
    ),
    SignalRule("pet_cat", keywords={"category": ("cat food", "cat litter")}, tags=("cat",)),
    SignalRule(
        "pet_other",
        keywords={
            "subcategory": ("bird food", "aquarium", "small animal", "reptile"),
        },
        tags=("pet_other",),
    ),
)


def _contains_any(column: str, words: Sequence[str]) -> pl.Expr:
    """True where ``column`` contains one of ``words``, ignoring case (null → False)."""
    hit = pl.lit(False)
    for word in words:
        hit = hit | pl.col(column).str.to_lowercase().str.contains(word.lower(), literal=True)
    return hit.fill_null(False)


def match_expression(rule: SignalRule) -> pl.Expr:
    """The Polars condition on a product row for ``rule`` (keywords or tags, minus exclusions)."""
    hit = pl.lit(False)
    for column, words in rule.keywords.items():
        hit = hit | _contains_any(column, words)
    if rule.tags:
        tags = (
            pl.col("tags")
            .str.to_lowercase()
            .str.split(",")
            .list.eval(pl.element().str.strip_chars())
        )
        hit = hit | tags.list.set_intersection([t.lower() for t in rule.tags]).list.len().gt(
            0
        ).fill_null(False)
    for column, words in rule.exclude.items():
        hit = hit & ~_contains_any(column, words)
    return hit


def unique_signals(rules: Sequence[SignalRule]) -> Sequence[SignalRule]:
    """``rules``, refused if two of them name the same signal (a member has it or not)."""
    signals = [rule.signal for rule in rules]
    if len(set(signals)) != len(signals):
        raise ValueError("life stage rules: one rule per signal")
    return rules


def evidence_text(matched: pl.Expr, total: pl.Expr, categories: pl.Expr) -> pl.Expr:
    """``"<m> of <n> lines: A, B, C"``."""
    return pl.format("{} of {} lines: {}", matched, total, categories)


def life_stage(
    lines: pl.DataFrame,
    products: pl.DataFrame,
    members: pl.DataFrame,
    *,
    as_of: datetime,
    rules: Sequence[SignalRule] = DEFAULT_RULES,
    window_days: int = 365,
) -> pl.DataFrame:
    """The household signals detected for each consenting member (one row per signal)."""
    epoch_us(as_of)
    start = as_of - timedelta(days=window_days)
    consenting = (
        require(members, MEMBERS, "members")
        .filter(pl.col("consent_analytics").fill_null(False))
        .select("member_id")
        .unique()
    )
    sold = (
        require(lines, LINES, "lines")
        .lazy()
        .filter(
            pl.col("member_id").is_not_null()
            & (pl.col("quantity") > 0)
            & (pl.col("at") >= start)
            & (pl.col("at") < as_of)
        )
        .join(consenting.lazy(), on="member_id", how="semi")
        .select("member_id", "product_id")
    )
    if not rules:
        return pl.DataFrame(schema=pl.Schema(LIFE_STAGE))
    totals = sold.group_by("member_id").agg(pl.len().cast(pl.Int64).alias("total"))
    catalogue = require(products, PRODUCTS, "products").lazy()
    # One join for all rules: every (product, rule) that matches, with the rule's thresholds.
    matching = pl.concat(
        [
            catalogue.filter(match_expression(rule)).select(
                "product_id",
                pl.coalesce("category", "department", pl.lit("?")).alias("label"),
                pl.lit(rule.signal).alias("signal"),
                pl.lit(rule.min_lines, dtype=pl.Int64).alias("min_lines"),
                pl.lit(rule.min_share, dtype=pl.Float64).alias("min_share"),
            )
            for rule in unique_signals(rules)
        ]
    )
    return (
        sold.join(matching, on="product_id")
        .group_by("member_id", "signal")
        .agg(
            pl.len().cast(pl.Int64).alias("matched"),
            pl.col("label").unique().sort().head(3).str.join(", ").alias("labels"),
            pl.col("min_lines").first(),
            pl.col("min_share").first(),
        )
        .join(totals, on="member_id")
        .with_columns((pl.col("matched") / pl.col("total")).alias("score"))
        .filter(
            (pl.col("matched") >= pl.col("min_lines")) & (pl.col("score") >= pl.col("min_share"))
        )
        .select(
            "member_id",
            "signal",
            "score",
            evidence_text(pl.col("matched"), pl.col("total"), pl.col("labels")).alias("evidence"),
        )
        .sort("member_id", "signal")
        .collect()
        .cast(pl.Schema(LIFE_STAGE))
    )
