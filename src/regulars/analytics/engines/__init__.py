"""The engines that run the analyses: local (Polars, one machine) and Spark (a cluster)."""
