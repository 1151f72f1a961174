"""Tables of the market-basket domain: rule runs (dated snapshots) and their rules.

A run is never changed after it finishes: the newest finished run for a level and a store
scope is the one in force (:func:`regulars.baskets.queries.run_active`), and older runs stay
for comparison until pruned. Items are strings: a product id at the product level, the
category's or brand's name at the others.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, UTCDateTime
from regulars.core.timeutil import utcnow

RUN_STATUSES = ("running", "done", "failed")
ITEM_LENGTH = 100


class BasketRun(Base):
    """One mining run: what was mined (level, period, store, thresholds), how, and its totals.

    ``revision`` is a random token set when the run finishes, so a process that caches the
    run's rules (the till's suggestion index) can tell a new run from a reused id.
    """

    __tablename__ = "basket_run"
    __table_args__ = (Index("ix_basket_run_active", "level", "status", "store_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(10))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))  # None: every store
    period_from: Mapped[date | None] = mapped_column(Date)  # first day mined (local), inclusive
    period_to: Mapped[date | None] = mapped_column(Date)  # last day mined (local), inclusive
    min_support: Mapped[float] = mapped_column(Float)
    min_confidence: Mapped[float] = mapped_column(Float)
    min_lift: Mapped[float] = mapped_column(Float, default=0.0)
    engine: Mapped[str] = mapped_column(String(10), default="local")
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    itemsets: Mapped[int] = mapped_column(Integer, default=0)
    rules: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[str | None] = mapped_column(String(32))
    started_by: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)


class BasketRule(Base):
    """A rule antecedent ⇒ consequent of a run, with its basket count and measures.

    ``conviction`` is null when it is infinite (confidence 1).
    """

    __tablename__ = "basket_rule"
    __table_args__ = (Index("ix_basket_rule_run_consequent", "run_id", "consequent"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("basket_run.id", ondelete="CASCADE"))
    antecedent: Mapped[list[str]] = mapped_column(JSON)
    consequent: Mapped[str] = mapped_column(String(ITEM_LENGTH))
    size: Mapped[int] = mapped_column(Integer)  # items in the antecedent
    count: Mapped[int] = mapped_column(Integer)
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    leverage: Mapped[float] = mapped_column(Float)
    conviction: Mapped[float | None] = mapped_column(Float)


class BasketRuleItem(Base):
    """One antecedent item of a rule, so that "rules bought with X" is an indexed read."""

    __tablename__ = "basket_rule_item"
    __table_args__ = (Index("ix_basket_rule_item_run_item", "run_id", "item"),)

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("basket_rule.id", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[str] = mapped_column(String(ITEM_LENGTH), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("basket_run.id", ondelete="CASCADE"))
