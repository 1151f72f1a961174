"""The Spark engine: the :class:`~regulars.analytics.engines.local.Engine` interface on PySpark.

Tables given as Polars DataFrames are converted once through Arrow and cached in Spark for the
engine's life (a nightly run hands the same lines to five analyses); tables given as Parquet paths
are read by Spark itself, so data larger than the driver's memory never passes through
Polars. Results come back as Polars DataFrames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import SparkSession

from regulars.analytics.churn import DEFAULT_RULES as DEFAULT_CHURN
from regulars.analytics.churn import ChurnRules
from regulars.analytics.engines import spark_households, spark_segments
from regulars.analytics.engines.local import Source
from regulars.analytics.engines.spark_clv import clv_summary_spark
from regulars.analytics.engines.spark_segments import require_spark
from regulars.analytics.frames import TABLES
from regulars.analytics.lifestage import DEFAULT_RULES as DEFAULT_SIGNALS
from regulars.analytics.lifestage import SignalRule
from regulars.analytics.pyramid import PyramidCuts
from regulars.analytics.rfm import RfmCuts

__all__ = ["SparkEngine", "SparkSource", "read_parquet"]

#: What the Spark engine takes as a table: a Polars frame, a Parquet path or a Spark frame.
SparkSource = Source | SparkFrame


def read_parquet(spark: SparkSession, tables: Mapping[str, Path]) -> dict[str, SparkFrame]:
    """Spark DataFrames over Parquet files, one per table, columns checked."""
    return {
        name: require_spark(spark.read.parquet(str(path)), TABLES[name], name)
        for name, path in tables.items()
    }


class SparkEngine:
    """The analyses on a Spark session (``local[2]`` in tests, a cluster in production)."""

    name = "spark"

    def __init__(self, spark: SparkSession) -> None:
        """An engine on ``spark`` with an empty cache of converted tables."""
        self.spark = spark
        self._frames: dict[int, tuple[pl.DataFrame, SparkFrame]] = {}
        self._paths: dict[Path, SparkFrame] = {}

    def frame(self, source: SparkSource, table: str = "lines") -> SparkFrame:
        """``source`` as a Spark DataFrame with ``table``'s columns."""
        if isinstance(source, SparkFrame):
            return require_spark(source, TABLES[table], table)
        if isinstance(source, Path):
            if source not in self._paths:
                self._paths[source] = read_parquet(self.spark, {table: source})[table]
            return self._paths[source]
        # Keyed by identity and holding the frame, so the id cannot be reused meanwhile.
        kept = self._frames.get(id(source))
        if kept is None or kept[0] is not source:
            converted = self.spark.createDataFrame(source.select(list(TABLES[table])).to_arrow())
            # Cached: the frame fit in the driver already, and every analysis reads it again.
            kept = (source, require_spark(converted, TABLES[table], table).cache())
            self._frames[id(source)] = kept
        return kept[1]

    def rfm(
        self, lines: SparkSource, *, as_of: datetime, cuts: RfmCuts | None = None
    ) -> pl.DataFrame:
        """RFM scores and segments (see ``rfm.rfm_scores``)."""
        return spark_segments.rfm_scores(self.frame(lines), as_of=as_of, cuts=cuts)

    def pyramid(
        self,
        lines: SparkSource,
        *,
        as_of: datetime,
        window_days: int = 365,
        cuts: PyramidCuts | None = None,
    ) -> pl.DataFrame:
        """The value pyramid (see ``pyramid.profit_pyramid``)."""
        return spark_segments.profit_pyramid(
            self.frame(lines), as_of=as_of, window_days=window_days, cuts=cuts
        )

    def churn(
        self, lines: SparkSource, *, as_of: datetime, rules: ChurnRules = DEFAULT_CHURN
    ) -> pl.DataFrame:
        """Churn status per member (see ``churn.churn_status``)."""
        return spark_households.churn_status(
            self.frame(lines),
            as_of=as_of,
            rules=rules,
        )

    def churn_trend(
        self,
        lines: SparkSource,
        *,
        as_of: datetime,
        months: int = 12,
        rules: ChurnRules = DEFAULT_CHURN,
    ) -> pl.DataFrame:
        """Monthly churn (see ``churn.churn_trend``)."""
        return spark_households.churn_trend(
            self.frame(lines), as_of=as_of, months=months, rules=rules
        )

    def life_stage(
        self,
        lines: SparkSource,
        products: SparkSource,
        members: SparkSource,
        *,
        as_of: datetime,
        rules: Sequence[SignalRule] = DEFAULT_SIGNALS,
        window_days: int = 365,
    ) -> pl.DataFrame:
        """Household signals (see ``lifestage.life_stage``)."""
        return spark_households.life_stage(
            self.frame(lines),
            self.frame(products, "products"),
            self.frame(members, "members"),
            as_of=as_of,
            rules=rules,
            window_days=window_days,
        )

    def clv_summary(
        self, lines: SparkSource, *, as_of: datetime, period_days: float = 1.0
    ) -> pl.DataFrame:
        """The per-member summary the CLV models take (see ``clv.clv_summary``)."""
        return clv_summary_spark(
            self.frame(lines),
            observation_end=as_of - timedelta(microseconds=1),
            period_days=period_days,
        )
