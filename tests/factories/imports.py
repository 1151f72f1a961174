"""Files for import tests: rows written as CSV (all text) or Parquet."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from regulars.imports.outcome import Outcome


def write_table(path: Path, rows: list[dict[str, object]]) -> Path:
    """Write ``rows`` to ``path`` as CSV or Parquet (by suffix); the header is line 1."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    frame = pl.DataFrame({c: [row.get(c) for row in rows] for c in columns}, strict=False)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return path


def errors_by_line(outcome: Outcome) -> dict[int, list[tuple[str, str]]]:
    """The reported bad rows as {line: [(column, reason), …]}."""
    found: dict[int, list[tuple[str, str]]] = {}
    for error in outcome.sorted_errors():
        found.setdefault(error.line, []).append((error.column, error.reason))
    return found
