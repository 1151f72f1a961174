"""Reads of the imports domain."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.core.errors import NotFound
from regulars.core.i18n import _
from regulars.imports.models import ImportRun


def run_get(session: Session, *, run_id: int) -> ImportRun:
    """Return an import run by id or raise ``NotFound``."""
    run = session.get(ImportRun, run_id)
    if run is None:
        raise NotFound(_("import run {id} not found"), field="run_id", id=run_id)
    return run


def run_report(session: Session, *, run_id: int) -> Path:
    """The error report file of a run, or ``NotFound``."""
    run = run_get(session, run_id=run_id)
    if not run.report_path or not Path(run.report_path).exists():
        raise NotFound(_("import run {id} has no report"), field="run_id", id=run_id)
    return Path(run.report_path)


def runs_recent(session: Session, *, limit: int = 30, offset: int = 0) -> list[ImportRun]:
    """Import runs newest first, as the /imports page lists them (also ``regulars import
    runs``): ids grow with time, so the id orders them even when two start together."""
    query = select(ImportRun).order_by(ImportRun.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))
