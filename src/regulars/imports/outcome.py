"""What an import run found: counts and the bad rows (line, column, reason)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from regulars.core.config import get_settings
from regulars.core.i18n import _, reader_locale, translate
from regulars.core.reasons import error_place, validation_reason
from regulars.imports.formats import LINE

# Called with (stage, done, total) so a CLI can draw a progress bar; ``None`` draws nothing.
Progress = Callable[[str, int, int], None]
#: The stage a run reports while it waits for another import's turn (``bulk.import_turn``).
WAITING = "waiting"
# Called after each batch; the entrypoint passes ``uow.commit`` to commit batch by batch.
Checkpoint = Callable[[], None]


@dataclass(frozen=True)
class RowError:
    """One bad row: its line in the file, the column at fault and why."""

    line: int
    column: str
    reason: str
    value: str | None = None


@dataclass
class Outcome:
    """Counts of an import and its bad rows, filled in by the loaders."""

    total: int = 0
    loaded: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)

    @property
    def bad(self) -> int:
        """Number of bad rows (a row with two faults counts once)."""
        return len(self.bad_lines)

    def add(self, line: int, column: str, reason: str, value: str | None = None) -> None:
        """Report one bad row."""
        self.errors.append(RowError(line=line, column=column, reason=reason, value=value))
        self.bad_lines.add(line)

    def add_frame(self, frame: pl.DataFrame, *, column: str, reason: str | pl.Expr) -> None:
        """Report every row of ``frame`` as bad, with one column and a reason (or expression)."""
        if frame.is_empty():
            return
        reasons = frame.select(
            pl.col(LINE),
            (pl.lit(reason) if isinstance(reason, str) else reason).alias("reason"),
            (pl.col(column) if column in frame.columns else pl.lit(None, dtype=pl.String))
            .cast(pl.String)
            .alias("value"),
        )
        for line, why, value in reasons.iter_rows():
            self.add(int(line), column, str(why), value)

    def sorted_errors(self) -> list[RowError]:
        """The bad rows in file order."""
        return sorted(self.errors, key=lambda e: (e.line, e.column))


#: No database text column takes a NUL character (PostgreSQL refuses the whole statement).
NUL = "\x00"


def refuse_nul(outcome: Outcome, row: Mapping[str, Any]) -> bool:
    """Report the first cell of ``row`` holding a NUL character; whether there was one."""
    for column, value in row.items():
        if column != LINE and isinstance(value, str) and NUL in value:
            shown = value.replace(NUL, "\\0")
            outcome.add(int(row[LINE]), column, say(_("contains a NUL character")), shown)
            return True
    return False


def write_report(path: Path, errors: Iterable[RowError]) -> Path:
    """Write the bad rows as CSV (line, column, reason, value) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "column", "reason", "value"])
        for error in errors:
            writer.writerow([error.line, error.column, error.reason, error.value or ""])
    return path


def say(message: str, **params: object) -> str:
    """A report reason: the catalogue message in its reader's locale (the run's, see
    :func:`regulars.core.i18n.messages_in`) or else the configured one, filled in."""
    return translate(message, reader_locale() or get_settings().default_locale, **params)


def report_validation(
    outcome: Outcome, line: int, exc: ValidationError, columns: dict[str, str]
) -> None:
    """Report each error of a Pydantic validation against its file column.

    ``columns`` maps schema field names to file column names where they differ. Errors of
    whole-model validators name their field (``core.schemas.refuse``), as the API does.
    """
    for err in exc.errors():
        message = validation_reason(err, reader_locale() or get_settings().default_locale)
        name = error_place(err).split(".", 1)[0].split("[", 1)[0]
        value = err.get("input")
        outcome.add(
            line,
            columns.get(name, name or "row"),
            message,
            None if isinstance(value, dict) or value is None else str(value),
        )
