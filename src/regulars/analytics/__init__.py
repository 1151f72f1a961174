"""Analytics: pure functions over tables of receipts and lines (no web, no ORM).

Inputs are the tables described in :mod:`regulars.analytics.frames`; ``extract`` is the only
module that reads the operational database. Each analysis has a local (Polars / NumPy) and a
Spark implementation that must agree on the same data.
"""
