"""Insights: the analytics results written back as dated snapshots (scores, segments, signals)."""
