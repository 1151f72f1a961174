"""Staff pages of the catalogue: products with search and filters, a product's page to add,
complete or correct it, stores and their tills."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from regulars.catalog import queries, service
from regulars.catalog.models import Product, Store
from regulars.catalog.schemas import (
    PRODUCT_TEXT_FIELDS,
    StoreCreate,
    TerminalKey,
)
from regulars.core.errors import DomainError, Forbidden
from regulars.core.i18n import _
from regulars.core.reasons import invalid_input
from regulars.core.web import IdPath, UowDep
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("catalog.read"))]
Writer = Annotated[PageContext, Depends(page_require("catalog.write"))]
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
    review: Annotated[bool, Query()] = False,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Search the catalogue by barcode, SKU, name or brand; filter by department and tag,
    or to the products a till created that are still to review."""
    products = queries.product_search(
        uow.session,
        text=q or None,
        department=department or None,
        tag=tag or None,
        needs_review=True if review else None,
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
    filters = {
        "q": q or "",
        "department": department or "",
        "tag": tag or "",
        "review": "1" if review else "",
    }
    data = {
        "products": products,
        "departments": departments,
        "filters": filters,
        "to_review": queries.product_review_count(uow.session),
        "page_no": page_no,
        "page_size": PAGE_SIZE,
    }
    return page(request, ctx, "catalog/products.html", data)


# Fields of the product form: the typed text ones and the "active" box.
CREATE_FIELDS = PRODUCT_TEXT_FIELDS
UPDATE_FIELDS = tuple(f for f in PRODUCT_TEXT_FIELDS if f != "sku")


def _form_error(exc: DomainError | ValidationError) -> DomainError:
    """A form's error naming its field: the service's own, or Pydantic's first."""
    return invalid_input(exc) if isinstance(exc, ValidationError) else exc


async def _typed(request: Request, names: tuple[str, ...]) -> tuple[dict[str, str], bool | None]:
    """The form's typed text of ``names`` (only those sent) and its "active" box.

    The box is sent as a hidden ``0`` followed by the checkbox's ``1``, so a form without
    the box leaves ``active`` as it was (``None``) and an unticked box is ``False``.
    """
    form = await request.form()
    typed = {name: str(form.get(name, "")) for name in names if name in form}
    sent = [str(v) for v in form.getlist("active")]
    return typed, ("1" in sent) if sent else None


def _product_values(uow: UowDep, product: Product) -> dict[str, str]:
    """A product's fields as the form shows them."""
    values = {
        name: "" if getattr(product, name, None) is None else str(getattr(product, name))
        for name in UPDATE_FIELDS
        if name not in ("tags", "manufacturer_code")
    }
    values["sku"] = product.sku
    values["tags"] = ", ".join(product.tags or [])
    maker = queries.manufacturer_of(uow.session, product)
    values["manufacturer_code"] = maker.code if maker else ""
    return values


def _product_page(
    request: Request,
    uow: UowDep,
    ctx: PageContext,
    *,
    product: Product | None,
    values: dict[str, str],
    active: bool,
    error: DomainError | None = None,
    saved: bool = False,
    status: int = 200,
) -> HTMLResponse:
    data = {
        "p": product,
        "v": values,
        "active": active,
        "error": error,
        "saved": saved,
        "manufacturer": queries.manufacturer_of(uow.session, product) if product else None,
    }
    return page(request, ctx, "catalog/product.html", data, status_code=status)


@router.get("/products/new", response_class=HTMLResponse)
def product_new(request: Request, uow: UowDep, ctx: Writer) -> HTMLResponse:
    """The form for a new product."""
    return _product_page(request, uow, ctx, product=None, values={}, active=True)


@router.post("/products/new", response_class=HTMLResponse, response_model=None)
async def product_new_submit(request: Request, uow: UowDep, ctx: Csrf) -> Response:
    """Add a product; a bad field or a taken SKU or barcode is shown on the form, with the
    values typed kept."""
    if not ctx.can("catalog.write"):
        raise Forbidden(_("your role may not do this"))
    typed, active = await _typed(request, CREATE_FIELDS)
    try:
        added = service.product_add(uow, typed=typed, active=active)
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        return _product_page(
            request,
            uow,
            ctx,
            product=None,
            values=typed,
            active=active is not False,
            error=_form_error(exc),
            status=422,
        )
    audit_record(
        uow, actor=ctx.account, action="product_create", page="/products/new", detail=added.detail
    )
    uow.commit()
    return RedirectResponse(f"/products/{added.product.id}?saved=1", status_code=303)


@router.get("/products/{product_id}", response_class=HTMLResponse)
def product_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    product_id: IdPath,
    saved: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """A product's facts; the form to complete or correct it for staff who may write."""
    product = queries.product_get(uow.session, product_id=product_id)
    return _product_page(
        request,
        uow,
        ctx,
        product=product,
        values=_product_values(uow, product),
        active=product.active,
        saved=saved,
    )


@router.post("/products/{product_id}", response_class=HTMLResponse, response_model=None)
async def product_submit(request: Request, uow: UowDep, ctx: Csrf, product_id: IdPath) -> Response:
    """Change the fields the form sent (an empty box empties its field, prices too); a
    name clears the "to review" flag."""
    if not ctx.can("catalog.write"):
        raise Forbidden(_("your role may not do this"))
    queries.product_get(uow.session, product_id=product_id)  # 404 before reading the form
    typed, active = await _typed(request, UPDATE_FIELDS)
    try:
        edited = service.product_edit(uow, product_id=product_id, typed=typed, active=active)
    except (DomainError, ValidationError) as exc:
        uow.rollback()
        product = queries.product_get(uow.session, product_id=product_id)
        return _product_page(
            request,
            uow,
            ctx,
            product=product,
            values={**_product_values(uow, product), **typed},
            active=product.active if active is None else active,
            error=_form_error(exc),
            status=422,
        )
    audit_record(
        uow,
        actor=ctx.account,
        action="product_update",
        page=f"/products/{product_id}",
        detail=edited.detail,
    )
    uow.commit()
    return RedirectResponse(f"/products/{product_id}?saved=1", status_code=303)


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
