"""The Spark engine's session: one place that knows how Regulars talks to a cluster."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

__all__ = ["spark_session"]


def spark_session(master: str = "local[2]", *, app_name: str = "regulars") -> SparkSession:
    """Start (or reuse) a Spark session on ``master``, quiet and sized for analytics jobs."""
    # Python workers (the list chooser runs in them) need this interpreter and its packages;
    # a cluster deployment names its own through PYSPARK_PYTHON.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # no progress bars in CLI/job logs
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
