"""Response models of the imports domain."""

from __future__ import annotations

from datetime import datetime

from regulars.core.schemas import ReadSchema, Schema


class RowErrorRead(Schema):
    """One bad row of an import: its line in the file, the column and why."""

    line: int
    column: str
    reason: str
    value: str | None = None


class ImportRunRead(ReadSchema):
    """An import run with its counts."""

    id: int
    kind: str
    filename: str
    sha256: str
    started_at: datetime
    finished_at: datetime | None
    rows_total: int
    rows_loaded: int
    rows_unchanged: int
    rows_bad: int
    actor: str


class ImportRunListed(ImportRunRead):
    """A run as the list of runs shows it: with its state, since a queued or running upload
    (the /imports page's) has no final counts yet, and why a failed one stopped."""

    status: str
    rows_done: int
    error: str | None


class ImportResult(ImportRunRead):
    """A finished run and its first bad rows (the whole list is in the report)."""

    errors: list[RowErrorRead] = []
    errors_truncated: bool = False
    report_url: str | None = None
