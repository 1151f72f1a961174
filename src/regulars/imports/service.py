"""Writes of the imports domain: run a bulk import and record it as an ``ImportRun``.

Transactions: like every service this one never commits. A big file is loaded in
batches, and after each batch the loader calls ``checkpoint`` — the entrypoint passes
``uow.commit`` so a long import keeps its finished batches and never holds one huge
transaction (tests pass nothing and roll everything back). Re-running a file is safe
either way: what is already loaded is *unchanged* the second time.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import polars as pl
from sqlalchemy import update

from regulars.core.config import get_settings
from regulars.core.db import planner_stats
from regulars.core.i18n import messages_in, normalise_locale
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.imports.formats import Kind, read_frame
from regulars.imports.members import members_load
from regulars.imports.models import ImportRun
from regulars.imports.outcome import WAITING, Checkpoint, Outcome, Progress, write_report
from regulars.imports.products import products_load
from regulars.imports.receipts import receipts_load
from regulars.imports.returns import returns_load


def report_path(run_id: int, kind: str) -> Path:
    """Where the error report of a run is written: ``var_dir/reports``.

    The name carries a random part besides the run id: run ids are only unique within one
    database, and two databases may share a ``var_dir`` (a test server beside the suite, a
    staging copy), while SQLite hands a rolled-back run's id to the next run. Without it one
    run's report could overwrite another's between its write and its download.
    """
    token = secrets.token_hex(4)
    return get_settings().var_dir / "reports" / f"import-{run_id}-{kind}-{token}.csv"


def run_start(
    uow: UnitOfWork,
    *,
    kind: Kind,
    filename: str,
    sha256: str,
    actor: str,
    locale: str | None = None,
) -> ImportRun:
    """Record the start of an import run; ``locale`` is its reader's (see :func:`import_file`)."""
    run = ImportRun(
        kind=kind,
        filename=filename[:500],
        sha256=sha256,
        actor=actor[:100],
        started_at=utcnow(),
        locale=normalise_locale(locale) if locale else None,
    )
    uow.session.add(run)
    uow.flush()
    return run


def run_finish(uow: UnitOfWork, *, run: ImportRun, outcome: Outcome) -> ImportRun:
    """Store a run's counts and write its error report (always, so it can be fetched)."""
    path = write_report(report_path(run.id, run.kind), outcome.sorted_errors())
    uow.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id)
        .values(
            finished_at=utcnow(),
            rows_total=outcome.total,
            rows_loaded=outcome.loaded,
            rows_unchanged=outcome.unchanged,
            rows_bad=outcome.bad,
            report_path=str(path),
            status="done",
            rows_done=outcome.total,
        )
        .execution_options(synchronize_session=False)
    )
    uow.session.refresh(run)
    return run


def import_frame(
    uow: UnitOfWork,
    *,
    kind: Kind,
    frame: pl.DataFrame,
    outcome: Outcome,
    source: str = "import",
    is_demo: bool = False,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> None:
    """Load a checked frame of ``kind`` (see ``formats.check_columns``) into ``outcome``."""
    if kind == "members":
        members_load(
            uow,
            frame,
            outcome=outcome,
            source=source,
            is_demo=is_demo,
            checkpoint=checkpoint,
            progress=progress,
        )
    elif kind == "products":
        products_load(
            uow, frame, outcome=outcome, is_demo=is_demo, checkpoint=checkpoint, progress=progress
        )
    elif kind == "returns":
        returns_load(
            uow, frame, outcome=outcome, source=source, checkpoint=checkpoint, progress=progress
        )
    else:
        receipts_load(
            uow,
            frame,
            outcome=outcome,
            source=source,
            is_demo=is_demo,
            checkpoint=checkpoint,
            progress=progress,
        )


def import_file(
    uow: UnitOfWork,
    *,
    kind: Kind,
    data: Path | bytes,
    filename: str,
    actor: str = "cli",
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
    run: ImportRun | None = None,
    locale: str | None = None,
) -> tuple[ImportRun, Outcome]:
    """Import a CSV or Parquet file of ``kind``; return the run and what it found.

    A file that cannot be read or lacks required columns raises ``InvalidInput`` before
    anything is recorded; bad rows never raise, they are counted and reported, with
    reasons in ``locale`` (a queued ``run``'s own; by default the configured one).
    """
    content = data.read_bytes() if isinstance(data, Path) else data
    reader = (run.locale if run is not None else locale) or get_settings().default_locale
    with messages_in(reader):
        frame = read_frame(content, filename=filename, kind=kind)
        if run is None:
            sha256 = hashlib.sha256(content).hexdigest()
            run = run_start(
                uow, kind=kind, filename=filename, sha256=sha256, actor=actor, locale=locale
            )
        outcome = Outcome()
        import_frame(
            uow, kind=kind, frame=frame, outcome=outcome, checkpoint=checkpoint, progress=progress
        )
    planner_stats(uow.session)
    return run_finish(uow, run=run, outcome=outcome), outcome


def run_queue(
    uow: UnitOfWork,
    *,
    kind: Kind,
    filename: str,
    content: bytes,
    actor: str,
    locale: str | None = None,
) -> ImportRun:
    """Record an uploaded file as a queued run and keep the file until it is loaded; the
    run's report is written in ``locale``, the uploader's."""
    run = run_start(
        uow,
        kind=kind,
        filename=filename,
        sha256=hashlib.sha256(content).hexdigest(),
        actor=actor,
        locale=locale,
    )
    run.status = "queued"
    path = upload_path(run.id, filename, run.sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    uow.flush()
    return run


def upload_path(run_id: int, filename: str, sha256: str) -> Path:
    """Where an uploaded file waits for its run: ``var_dir/uploads``.

    The name carries the content's hash besides the run id (unique only within one database,
    see :func:`report_path`), so two runs that meet on a name hold the same bytes.
    """
    safe = (
        "".join(ch for ch in Path(filename).name if ch.isalnum() or ch in "._-")[-100:] or "upload"
    )
    return get_settings().var_dir / "uploads" / f"{run_id}-{sha256[:16]}-{safe}"


def run_progress(
    uow: UnitOfWork, *, run_id: int, done: int, total: int, stage: str = "running"
) -> None:
    """Record how far a background run has come, and whether it waits for another
    import's turn (``stage`` :data:`WAITING`)."""
    status = WAITING if stage == WAITING else "running"
    uow.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id)
        .values(status=status, rows_done=done, rows_total=total)
        .execution_options(synchronize_session=False)
    )


def run_fail(uow: UnitOfWork, *, run_id: int, message: str) -> None:
    """Mark a background run as failed with a reason staff can read."""
    uow.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id)
        .values(status="failed", error=message[:500], finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
