"""Staff pages of the catalogue: products with search and filters, stores and their tills."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from regulars.catalog import queries, service
from regulars.catalog.models import Product, Store
from regulars.catalog.schemas import StoreCreate, TerminalKey
from regulars.core.errors import DomainError, Forbidden
from regulars.core.i18n import _
from regulars.core.web import UowDep
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("catalog.read"))]
StoreAdmin = Annotated[PageContext, Depends(page_require("stores.manage"))]
PAGE_SIZE = 50


@router.get("/products", response_class=HTMLResponse)
def products_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    q: Annotated[str | None, Query(max_length=100)] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=30)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Search the catalogue by barcode, SKU, name or brand; filter by department and tag."""
    products = queries.product_search(
        uow.session,
        text=q or None,
        department=department or None,
        tag=tag or None,
        limit=PAGE_SIZE,
        offset=(page_no - 1) * PAGE_SIZE,
    )
    departments = [
        d
        for d in uow.session.scalars(
            select(Product.department).distinct().order_by(Product.department)
        )
        if d
    ]
    filters = {"q": q or "", "department": department or "", "tag": tag or ""}
    data = {
        "products": products,
        "departments": departments,
        "filters": filters,
        "page_no": page_no,
        "page_size": PAGE_SIZE,
    }
    return page(request, ctx, "catalog/products.html", data)


def _scoped_stores(uow: UowDep, ctx: PageContext) -> list[Store]:
    """The stores a staff member may manage: all for admins, their own for store managers."""
    stores = queries.store_list(uow.session)
    if ctx.account.role == "admin":
        return stores
    return [s for s in stores if s.id in (ctx.account.store_ids or [])]


def _stores_page(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    *,
    key: TerminalKey | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HTMLResponse:
    stores = _scoped_stores(uow, ctx)
    terminals = {s.id: queries.terminals_of(uow.session, store_id=s.id) for s in stores}
    data = {"stores": stores, "terminals": terminals, "key": key, "error": error}
    return page(request, ctx, "catalog/stores.html", data, status_code=status)


@router.get("/stores", response_class=HTMLResponse)
def stores_page(request: Request, uow: UowDep, ctx: StoreAdmin) -> HTMLResponse:
    """Stores and their tills (store managers see their own stores)."""
    return _stores_page(request, uow, ctx)


def _check_store(uow: UowDep, ctx: PageContext, store_code: str) -> None:
    if not ctx.can("stores.manage"):
        raise Forbidden(_("your role may not do this"))
    if store_code not in {s.code for s in _scoped_stores(uow, ctx)}:
        raise Forbidden(_("this store is not one of yours"))


@router.post("/stores", response_class=HTMLResponse)
def store_add(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    code: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=200)],
    city: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Add a store (admin)."""
    if not ctx.can("staff.manage"):
        raise Forbidden(_("your role may not do this"))
    try:
        service.store_create(uow, data=StoreCreate(code=code, name=name, city=city or None))
        audit_record(
            uow, actor=ctx.account, action="store_create", page="/stores", detail={"code": code}
        )
        uow.commit()
    except DomainError as exc:
        uow.rollback()
        return _stores_page(request, uow, ctx, error=exc, status=422)
    except ValueError as exc:
        uow.rollback()
        return _stores_page(
            request,
            uow,
            ctx,
            error=DomainError(_("{where}: {reason}"), where="code", reason=str(exc)),
            status=422,
        )
    return _stores_page(request, uow, ctx, status=201)


@router.post("/stores/{store_code}/terminals", response_class=HTMLResponse)
def terminal_add(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    store_code: str,
    code: Annotated[str, Form(max_length=32, pattern=r"^[0-9A-Za-z_.-]+$")],
) -> HTMLResponse:
    """Add a till and issue its API key (shown once)."""
    _check_store(uow, ctx, store_code)
    try:
        service.terminal_create(uow, store_code=store_code, code=code)
        key = service.terminal_issue_key(uow, store_code=store_code, terminal_code=code)
    except DomainError as exc:
        uow.rollback()
        return _stores_page(request, uow, ctx, error=exc, status=422)
    audit_record(
        uow,
        actor=ctx.account,
        action="terminal_create",
        page="/stores",
        detail={"store": store_code, "terminal": code},
    )
    uow.commit()
    return _stores_page(request, uow, ctx, key=key, status=201)


@router.post("/stores/{store_code}/terminals/{terminal_code}/key", response_class=HTMLResponse)
def key_issue(
    request: Request, uow: UowDep, ctx: Csrf, store_code: str, terminal_code: str
) -> HTMLResponse:
    """Issue a new API key for a till (the old one stops working)."""
    _check_store(uow, ctx, store_code)
    key = service.terminal_issue_key(uow, store_code=store_code, terminal_code=terminal_code)
    audit_record(
        uow,
        actor=ctx.account,
        action="key_issue",
        page="/stores",
        detail={"store": store_code, "terminal": terminal_code},
    )
    uow.commit()
    return _stores_page(request, uow, ctx, key=key)


@router.post("/stores/{store_code}/terminals/{terminal_code}/revoke", response_class=HTMLResponse)
def key_revoke(
    request: Request, uow: UowDep, ctx: Csrf, store_code: str, terminal_code: str
) -> HTMLResponse:
    """Revoke a till's API key at once."""
    _check_store(uow, ctx, store_code)
    service.terminal_revoke_key(uow, store_code=store_code, terminal_code=terminal_code)
    audit_record(
        uow,
        actor=ctx.account,
        action="key_revoke",
        page="/stores",
        detail={"store": store_code, "terminal": terminal_code},
    )
    uow.commit()
    return _stores_page(request, uow, ctx)
