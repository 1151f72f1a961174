"""The FastAPI application: till API, staff API and (later) the staff pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from regulars import __version__
from regulars.baskets.api import router as basket_till_router
from regulars.baskets.api import staff_router as baskets_router
from regulars.baskets.web import router as basket_pages
from regulars.catalog.api import router as catalog_router
from regulars.catalog.web import router as catalog_pages
from regulars.core.config import Settings, get_settings
from regulars.core.db import make_engine, make_session_factory
from regulars.core.templating import STATIC_DIR
from regulars.core.web import install_error_handlers
from regulars.entrypoints import schema
from regulars.entrypoints.wiring import wire
from regulars.imports.api import router as imports_router
from regulars.imports.web import router as import_pages
from regulars.insights.api import router as insights_router
from regulars.insights.web import router as insights_pages
from regulars.jobs.jobs_web import api as jobs_api
from regulars.jobs.jobs_web import pages as jobs_pages
from regulars.jobs.outbox_web import api as outbox_api
from regulars.jobs.outbox_web import pages as outbox_pages
from regulars.loyalty.api import router as loyalty_router
from regulars.loyalty.web import router as loyalty_pages
from regulars.members.api import router as members_router
from regulars.members.portal_web import router as portal_pages
from regulars.members.web import router as member_pages
from regulars.offers.api import router as offers_router
from regulars.offers.web import router as offers_pages
from regulars.sales.api import TillReceiptFastPath
from regulars.sales.api import router as till_router
from regulars.sales.api import staff_router as sales_router
from regulars.sales.pages import router as sales_pages
from regulars.staff.api import audit_router
from regulars.staff.api import router as staff_router
from regulars.staff.web import LoginRequired, login_redirect
from regulars.staff.web import router as staff_pages

DESCRIPTION = """
Regulars turns till data into relationships with a supermarket's regular customers.

* **Till API** (header `X-Api-Key`, one key per terminal): identify a member, post a receipt,
  post a return. A receipt is recorded once per (store, terminal, receipt number); a replay
  returns the first answer.
* **Staff API** (header `Authorization: Bearer …` from `POST /api/v1/staff/login`): members,
  catalogue, stores and terminals, bulk imports.

Errors are JSON `{"error": {"code", "message", "field"}}`; messages follow `Accept-Language`
(`zh-CN` or `en`).
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the application for ``settings`` (or the environment's)."""
    settings = settings or get_settings()
    engine = engine or make_engine(
        settings.database_url,
        echo=settings.sql_echo,
        pool_size=settings.db_pool_size,
        pre_ping=settings.db_pre_ping,
    )
    app = FastAPI(title="Regulars", version=__version__, description=DESCRIPTION)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.tables = len(schema.metadata.tables)
    wire()
    # Added first, so it runs inside the error handlers' NUL check (added below).
    app.add_middleware(TillReceiptFastPath)
    install_error_handlers(app)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return login_redirect(exc)

    api = (
        till_router,
        members_router,
        sales_router,
        catalog_router,
        staff_router,
        audit_router,
        imports_router,
        loyalty_router,
        insights_router,
        offers_router,
        basket_till_router,
        baskets_router,
        outbox_api,
        jobs_api,
    )
    pages = (
        staff_pages,
        member_pages,
        catalog_pages,
        sales_pages,
        import_pages,
        portal_pages,
        loyalty_pages,
        insights_pages,
        offers_pages,
        basket_pages,
        outbox_pages,
        jobs_pages,
    )
    for router in (*api, *pages):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness check."""
        return {"status": "ok", "version": __version__}

    return app
