"""The engine interface, and the local engine (Polars on one machine) that implements it.

An :class:`Engine` runs the segment analyses on tables given either as Polars DataFrames or
as Parquet files (:data:`Source`). The local engine reads Parquet with Polars; the Spark
engine (:mod:`regulars.analytics.engines.spark_engine`) hands the paths to Spark, so a big
table never passes through the driver's Polars. Both return Polars DataFrames with the same
columns, and must agree on the same data (``tests/analytics/test_engines.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import polars as pl

from regulars.analytics.churn import DEFAULT_RULES as DEFAULT_CHURN
from regulars.analytics.churn import ChurnRules, churn_status, churn_trend
from regulars.analytics.clv import clv_summary
from regulars.analytics.frames import TABLES
from regulars.analytics.lifestage import DEFAULT_RULES as DEFAULT_SIGNALS
from regulars.analytics.lifestage import SignalRule, life_stage
from regulars.analytics.pyramid import PyramidCuts, profit_pyramid
from regulars.analytics.rfm import RfmCuts, rfm_scores

__all__ = ["Engine", "LocalEngine", "Source"]

#: A table: a Polars DataFrame, or the path of a Parquet file holding it.
Source = pl.DataFrame | Path


class Engine(Protocol):
    """What every engine offers: the segment analyses, by the same names and arguments."""

    name: str

    def rfm(self, lines: Source, *, as_of: datetime, cuts: RfmCuts | None = None) -> pl.DataFrame:
        """RFM scores and segments (see ``rfm.rfm_scores``)."""
        ...

    def pyramid(
        self,
        lines: Source,
        *,
        as_of: datetime,
        window_days: int = 365,
        cuts: PyramidCuts | None = None,
    ) -> pl.DataFrame:
        """The value pyramid (see ``pyramid.profit_pyramid``)."""
        ...

    def churn(
        self, lines: Source, *, as_of: datetime, rules: ChurnRules = DEFAULT_CHURN
    ) -> pl.DataFrame:
        """Churn status per member (see ``churn.churn_status``)."""
        ...

    def churn_trend(
        self,
        lines: Source,
        *,
        as_of: datetime,
        months: int = 12,
        rules: ChurnRules = DEFAULT_CHURN,
    ) -> pl.DataFrame:
        """Monthly churn (see ``churn.churn_trend``)."""
        ...

    def life_stage(
        self,
        lines: Source,
        products: Source,
        members: Source,
        *,
        as_of: datetime,
        rules: Sequence[SignalRule] = DEFAULT_SIGNALS,
        window_days: int = 365,
    ) -> pl.DataFrame:
        """Household signals (see ``lifestage.life_stage``)."""
        ...

    def clv_summary(
        self, lines: Source, *, as_of: datetime, period_days: float = 1.0
    ) -> pl.DataFrame:
        """The per-member summary the CLV models take, from lines before ``as_of``."""
        ...


class LocalEngine:
    """The analyses in Polars, in this process. Parquet paths are read once and kept."""

    name = "local"

    def __init__(self) -> None:
        """An engine with an empty cache of tables read from Parquet."""
        self._read: dict[Path, pl.DataFrame] = {}

    def frame(self, source: Source, table: str = "lines") -> pl.DataFrame:
        """``source`` as a Polars DataFrame (a Parquet path is read with ``table``'s columns)."""
        if isinstance(source, pl.DataFrame):
            return source
        if source not in self._read:
            self._read[source] = pl.read_parquet(source, columns=list(TABLES[table]))
        return self._read[source]

    def read(self, tables: Mapping[str, Source]) -> dict[str, pl.DataFrame]:
        """Every table of ``tables`` as a Polars DataFrame."""
        return {name: self.frame(source, name) for name, source in tables.items()}

    def rfm(self, lines: Source, *, as_of: datetime, cuts: RfmCuts | None = None) -> pl.DataFrame:
        """RFM scores and segments (see ``rfm.rfm_scores``)."""
        return rfm_scores(self.frame(lines), as_of=as_of, cuts=cuts)

    def pyramid(
        self,
        lines: Source,
        *,
        as_of: datetime,
        window_days: int = 365,
        cuts: PyramidCuts | None = None,
    ) -> pl.DataFrame:
        """The value pyramid (see ``pyramid.profit_pyramid``)."""
        return profit_pyramid(self.frame(lines), as_of=as_of, window_days=window_days, cuts=cuts)

    def churn(
        self, lines: Source, *, as_of: datetime, rules: ChurnRules = DEFAULT_CHURN
    ) -> pl.DataFrame:
        """Churn status per member (see ``churn.churn_status``)."""
        return churn_status(
            self.frame(lines),
            as_of=as_of,
            rules=rules,
        )

    def churn_trend(
        self,
        lines: Source,
        *,
        as_of: datetime,
        months: int = 12,
        rules: ChurnRules = DEFAULT_CHURN,
    ) -> pl.DataFrame:
        """Monthly churn (see ``churn.churn_trend``)."""
        return churn_trend(self.frame(lines), as_of=as_of, months=months, rules=rules)

    def life_stage(
        self,
        lines: Source,
        products: Source,
        members: Source,
        *,
        as_of: datetime,
        rules: Sequence[SignalRule] = DEFAULT_SIGNALS,
        window_days: int = 365,
    ) -> pl.DataFrame:
        """Household signals (see ``lifestage.life_stage``)."""
        return life_stage(
            self.frame(lines),
            self.frame(products, "products"),
            self.frame(members, "members"),
            as_of=as_of,
            rules=rules,
            window_days=window_days,
        )

    def clv_summary(
        self, lines: Source, *, as_of: datetime, period_days: float = 1.0
    ) -> pl.DataFrame:
        """The per-member summary the CLV models take (see ``clv.clv_summary``)."""
        # clv_summary's end is inclusive; every other analysis stops just before as_of.
        return clv_summary(
            self.frame(lines),
            observation_end=as_of - timedelta(microseconds=1),
            period_days=period_days,
        )
