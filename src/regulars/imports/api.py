"""Staff API of bulk imports: upload a file, list and read runs, download an error report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import FileResponse

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _
from regulars.core.web import IdPath, UowDep, get_locale
from regulars.imports import queries, service
from regulars.imports.formats import check_kind
from regulars.imports.schemas import ImportResult, ImportRunListed, ImportRunRead, RowErrorRead
from regulars.staff.api import require
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
MAX_ERRORS = 1000
Importer = Annotated[StaffAccount, Depends(require("imports.run"))]


@router.get("", response_model=list[ImportRunListed])
def run_list(
    uow: UowDep,
    _who: Importer,
    limit: Annotated[int, Query(ge=1, le=500)] = 30,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ImportRunListed]:
    """Import runs, newest first, with their state and counts (the /imports page's list)."""
    runs = queries.runs_recent(uow.session, limit=limit, offset=offset)
    return [ImportRunListed.model_validate(run) for run in runs]


@router.post("/{kind}", response_model=ImportResult, status_code=201)
def upload(
    request: Request, uow: UowDep, kind: str, file: UploadFile, who: Importer
) -> ImportResult:
    """Import a CSV or Parquet file of members, products, receipts or returns.

    Every good row loads; the answer lists the first 1000 bad rows (line, column, reason,
    in the caller's language: ``?lang=``, the language cookie or Accept-Language) and
    links the full report. Loading the same file again changes nothing.
    """
    checked = check_kind(kind)
    content = file.file.read()
    if not content:
        raise InvalidInput(_("the file is empty"), field="file")
    run, outcome = service.import_file(
        uow,
        kind=checked,
        data=content,
        filename=file.filename or "upload",
        actor=who.username,
        checkpoint=uow.commit,
        locale=get_locale(request),
    )
    uow.commit()
    errors = outcome.sorted_errors()
    return ImportResult.model_validate(
        {
            **ImportRunRead.model_validate(run).model_dump(),
            "errors": [RowErrorRead(**vars(e)) for e in errors[:MAX_ERRORS]],
            "errors_truncated": len(errors) > MAX_ERRORS,
            "report_url": f"{router.prefix}/{run.id}/report",
        }
    )


@router.get("/{run_id}", response_model=ImportRunRead)
def run_read(uow: UowDep, run_id: IdPath, _who: Importer) -> ImportRunRead:
    """One import run with its counts."""
    return ImportRunRead.model_validate(queries.run_get(uow.session, run_id=run_id))


@router.get("/{run_id}/report", response_class=FileResponse)
def run_report(uow: UowDep, run_id: IdPath, _who: Importer) -> FileResponse:
    """The run's bad rows as CSV: line, column, reason, value."""
    path = queries.run_report(uow.session, run_id=run_id)
    return FileResponse(path, media_type="text/csv", filename=path.name)
