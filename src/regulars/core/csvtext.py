"""Reading CSV text that staff upload: rows with their line numbers, malformed lines as
errors instead of exceptions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class CsvRow:
    """One record of the file: its (last) line number, and its fields or why it is bad."""

    line: int
    fields: dict[str, str]
    error: str | None = None


class CsvText:
    """CSV text read with :class:`csv.DictReader`, header first.

    ``newline=""`` lets the reader see line ends as written (a lone ``\\r`` included), as
    the csv module asks; a line it cannot parse (say, a NUL byte) comes back as a
    :class:`CsvRow` with the parser's reason, and reading goes on with the next line.
    A line holding a NUL character is refused the same way.
    """

    def __init__(self, text: str) -> None:
        self._reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        try:
            self.columns: list[str] = list(self._reader.fieldnames or [])
            self.header_error: str | None = None
        except csv.Error as exc:
            self.columns, self.header_error = [], str(exc)

    def __iter__(self) -> Iterator[CsvRow]:
        if self.header_error is not None:
            return
        while True:
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield CsvRow(self._reader.line_num, {}, str(exc))
                continue
            fields = {k: v for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
            if any("\x00" in v for v in fields.values()):
                # Python's csv reads NUL bytes since 3.11; no database column takes them.
                yield CsvRow(self._reader.line_num, {}, "line contains NUL")
                continue
            yield CsvRow(self._reader.line_num, fields)
