"""Staff pages of bulk imports: upload a file, watch its progress, read the error report.

An upload is stored and queued; the import runs after the answer is sent (a background
task on the same server) and commits batch by batch, so the run page can show progress
by polling. Bad rows are read back from the run's report file.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from regulars.core.config import get_settings
from regulars.core.errors import DomainError, Forbidden, InvalidInput
from regulars.core.i18n import _, translate
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep
from regulars.imports import queries, service
from regulars.imports.formats import check_kind
from regulars.imports.models import ImportRun
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Importer = Annotated[PageContext, Depends(page_require("imports.run"))]
log = logging.getLogger(__name__)
SHOWN_ERRORS = 200
MAX_UPLOAD = 200 * 1024 * 1024


def execute_queued(session_factory: sessionmaker[Session], run_id: int) -> None:
    """Load a queued upload, recording progress after every batch; never raises."""
    with UnitOfWork(session_factory) as uow:
        run = queries.run_get(uow.session, run_id=run_id)
        path = service.upload_path(run.id, run.filename, run.sha256)

        def progress(stage: str, done: int, total: int) -> None:
            service.run_progress(uow, run_id=run_id, done=done, total=total, stage=stage)
            uow.commit()

        try:
            service.import_file(
                uow,
                kind=check_kind(run.kind),
                data=path,
                filename=run.filename,
                actor=run.actor,
                checkpoint=uow.commit,
                progress=progress,
                run=run,
            )
            uow.commit()
        except DomainError as exc:
            uow.rollback()
            locale = run.locale or get_settings().default_locale
            reason = translate(exc.message, locale, **exc.params)
            if exc.field:
                reason = translate(_("{field}: {reason}"), locale, field=exc.field, reason=reason)
            service.run_fail(uow, run_id=run_id, message=reason)
            uow.commit()
        except Exception:  # a background task has no caller to raise to: record and log
            log.exception("import run %s failed", run_id)
            uow.rollback()
            service.run_fail(uow, run_id=run_id, message="internal error; see the server log")
            uow.commit()
        finally:
            path.unlink(missing_ok=True)


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, uow: UowDep, ctx: Importer) -> HTMLResponse:
    """Recent import runs and the upload form."""
    runs = queries.runs_recent(uow.session)
    return page(request, ctx, "imports/imports.html", {"runs": runs, "error": None})


@router.post("/imports", response_model=None)
async def upload_page(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    tasks: BackgroundTasks,
    kind: Annotated[str, Form(max_length=20)],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Store the upload, queue its run and go to the run's page."""
    if not ctx.can("imports.run"):
        raise Forbidden(_("your role may not do this"))
    try:
        checked = check_kind(kind)
        content = await file.read(MAX_UPLOAD + 1)
        if not content:
            raise InvalidInput(_("the file is empty"), field="file")
        if len(content) > MAX_UPLOAD:
            raise InvalidInput(
                _("the file is larger than {mb} MB"), field="file", mb=MAX_UPLOAD // 2**20
            )
        run = service.run_queue(
            uow,
            kind=checked,
            filename=file.filename or "upload",
            content=content,
            actor=ctx.account.username,
            locale=ctx.locale,
        )
    except DomainError as exc:
        uow.rollback()
        runs = queries.runs_recent(uow.session)
        return page(
            request, ctx, "imports/imports.html", {"runs": runs, "error": exc}, status_code=422
        )
    audit_record(
        uow,
        actor=ctx.account,
        action="import_upload",
        page="/imports",
        detail={"run": run.id, "kind": checked},
    )
    uow.commit()
    tasks.add_task(execute_queued, request.app.state.session_factory, run.id)
    return RedirectResponse(f"/imports/{run.id}", status_code=303)


def _errors(run: ImportRun) -> list[dict[str, Any]]:
    """The first bad rows of a finished run, read from its report."""
    if not run.report_path or not Path(run.report_path).exists():
        return []
    with Path(run.report_path).open(encoding="utf-8", newline="") as handle:
        rows: list[dict[str, Any]] = []
        for row in csv.DictReader(handle):
            rows.append(row)
            if len(rows) >= SHOWN_ERRORS:
                break
    return rows


@router.get("/imports/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, uow: UowDep, ctx: Importer, run_id: IdPath) -> HTMLResponse:
    """One run: progress while it loads, then its counts and bad rows."""
    run = queries.run_get(uow.session, run_id=run_id)
    return page(
        request,
        ctx,
        "imports/run.html",
        {"run": run, "errors": _errors(run), "shown": SHOWN_ERRORS},
    )


@router.get("/imports/{run_id}/progress", response_class=HTMLResponse)
def run_progress_fragment(
    request: Request, uow: UowDep, ctx: Importer, run_id: IdPath
) -> HTMLResponse:
    """The progress part of the run page (polled by HTMX while the run is going)."""
    run = queries.run_get(uow.session, run_id=run_id)
    return page(
        request,
        ctx,
        "imports/progress.html",
        {"run": run, "errors": _errors(run), "shown": SHOWN_ERRORS},
    )


@router.get("/imports/{run_id}/report", response_model=None)
def report_download(uow: UowDep, ctx: Importer, run_id: IdPath) -> FileResponse:
    """The whole error report as CSV."""
    path = queries.run_report(uow.session, run_id=run_id)
    return FileResponse(path, media_type="text/csv", filename=path.name)
