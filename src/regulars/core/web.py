"""What every router shares: the unit-of-work dependency, locale and error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regulars.core.errors import DomainError
from regulars.core.i18n import _, normalise_locale, translate
from regulars.core.reasons import error_place, validation_reason
from regulars.core.schemas import MAX_ID
from regulars.core.templating import render
from regulars.core.uow import UnitOfWork


def get_uow(request: Request) -> Iterator[UnitOfWork]:
    """One unit of work per request; the route commits, anything else rolls back."""
    with UnitOfWork(request.app.state.session_factory) as uow:
        yield uow


def get_locale(request: Request) -> str:
    """The caller's locale: ``?lang=``, the language cookie, then Accept-Language."""
    return normalise_locale(
        request.query_params.get("lang")
        or request.cookies.get("regulars_lang")
        or request.headers.get("accept-language")
    )


def is_api(request: Request) -> bool:
    """Tell an API call (JSON answers) from a page request (HTML answers)."""
    return request.url.path.startswith("/api/")


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="row id")]


def _error(status: int, code: str, message: str, field: str | None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "field": field, **extra}}
    return JSONResponse(status_code=status, content=jsonable_encoder(body))


def _nul_field(raw: bytes) -> str | None:
    """The name of the first field of a query string or URL-encoded form holding a NUL."""
    text = raw.decode("latin-1")
    if "\x00" not in text and "%00" not in text:
        return None
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "body"
    return None


def _is_form(scope: Scope) -> bool:
    """Whether the request's body is a URL-encoded form."""
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            return bool(
                value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"
            )
    return False


class RejectNul:
    """Refuse a NUL character in the path, the query string or a URL-encoded form (422).

    No field has a use for one, and the databases disagree about it: SQLite stores it,
    PostgreSQL refuses text holding it. Checking once here, before any route runs, gives
    every page and API route the same answer on both. Multipart bodies (file uploads) are
    left alone: a file may well contain NUL bytes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on unless it carries a NUL; replay the form body it read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = "path" if "\x00" in scope.get("path", "") else None
        field = field or _nul_field(scope.get("query_string", b""))
        buffered: list[Message] = []
        if field is None and _is_form(scope):
            body = b""
            while True:
                message = await receive()
                buffered.append(message)
                body += message.get("body", b"")
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            field = _nul_field(body)
        if field is not None:
            answer = _nul_answer(Request(scope), field)
            await answer(scope, receive, send)
            return

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


def _nul_answer(request: Request, field: str) -> Response:
    """The 422 for input holding a NUL: JSON for the API, the error page for staff pages."""
    locale = get_locale(request)
    reason = "NUL characters are not allowed"
    message = translate(_("{field}: {reason}"), locale, field=field, reason=reason)
    if is_api(request):
        return _error(422, "InvalidInput", message, field)
    title = translate(_("Cannot do that"), locale)
    page = {"title": title, "message": message}
    return render(request, "error.html", page, locale=locale, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors and bad input to 4xx answers that name the field."""
    app.add_middleware(RejectNul)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        locale = get_locale(request)
        message = translate(exc.message, locale, **exc.params)
        if not is_api(request):
            titles = {401: _("Not logged in"), 403: _("Not allowed"), 404: _("Not found")}
            title = translate(titles.get(exc.status_code, _("Cannot do that")), locale)
            page = {"title": title, "message": message}
            return render(request, "error.html", page, locale=locale, status_code=exc.status_code)
        return _error(exc.status_code, type(exc).__name__, message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        locale = get_locale(request)
        errors = [
            {"field": error_place(err) or "body", "message": validation_reason(err, locale)}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": ""}
        message = translate(
            _("{field}: {reason}"), locale, field=first["field"], reason=first["message"]
        )
        return _error(422, "InvalidInput", message, first["field"], errors=errors)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        message = translate(
            _("the request conflicts with data already recorded"), get_locale(request)
        )
        return _error(409, "Conflict", message, None)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        message = translate(_("a value is out of range for its field"), get_locale(request))
        return _error(422, "InvalidInput", message, None)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        message = translate(_("the database is busy; retry the request"), get_locale(request))
        return _error(503, "Busy", message, None)
