"""Staff API of the catalogue: products, stores, terminals and their till keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from regulars.catalog import queries, service
from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.schemas import (
    ProductCreate,
    ProductRead,
    ProductUpdate,
    StoreCreate,
    StoreRead,
    TerminalCreate,
    TerminalKey,
    TerminalRead,
)
from regulars.core.web import IdPath, UowDep
from regulars.staff.api import require
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
Reader = Annotated[StaffAccount, Depends(require("catalog.read"))]
Writer = Annotated[StaffAccount, Depends(require("catalog.write"))]
StoreAdmin = Annotated[StaffAccount, Depends(require("stores.manage"))]


@router.get("/products", response_model=list[ProductRead])
def search_products(
    uow: UowDep,
    _who: Reader,
    q: Annotated[
        str | None, Query(max_length=100, description="barcode, SKU, name or brand")
    ] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=30)] = None,
    needs_review: Annotated[
        bool | None, Query(description="true: only products a till created, to complete")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[Product]:
    """Search the catalogue."""
    return queries.product_search(
        uow.session,
        text=q,
        department=department,
        tag=tag,
        needs_review=needs_review,
        limit=limit,
        offset=offset,
    )


@router.post("/products", response_model=ProductRead, status_code=201)
def create_product(uow: UowDep, data: ProductCreate, _who: Writer) -> Product:
    """Add a product (barcode check digit validated)."""
    product = service.product_create(uow, data=data)
    uow.commit()
    return product


@router.get("/products/{product_id}", response_model=ProductRead)
def get_product(uow: UowDep, product_id: IdPath, _who: Reader) -> Product:
    """One product."""
    return queries.product_get(uow.session, product_id=product_id)


@router.patch("/products/{product_id}", response_model=ProductRead)
def update_product(uow: UowDep, product_id: IdPath, data: ProductUpdate, _who: Writer) -> Product:
    """Change a product."""
    product = service.product_update(uow, product_id=product_id, data=data)
    uow.commit()
    return product


@router.get("/stores", response_model=list[StoreRead])
def list_stores(uow: UowDep, _who: Reader) -> list[Store]:
    """All stores."""
    return queries.store_list(uow.session)


@router.post("/stores", response_model=StoreRead, status_code=201)
def create_store(
    uow: UowDep, data: StoreCreate, _who: Annotated[StaffAccount, Depends(require("staff.manage"))]
) -> Store:
    """Add a store (admin)."""
    store = service.store_create(uow, data=data)
    uow.commit()
    return store


@router.get("/stores/{store_code}/terminals", response_model=list[TerminalRead])
def list_terminals(uow: UowDep, store_code: str, _who: StoreAdmin) -> list[Terminal]:
    """The tills of a store."""
    store = queries.store_by_code(uow.session, code=store_code)
    return queries.terminals_of(uow.session, store_id=store.id)


@router.post("/stores/{store_code}/terminals", response_model=TerminalRead, status_code=201)
def create_terminal(
    uow: UowDep, store_code: str, data: TerminalCreate, _who: StoreAdmin
) -> Terminal:
    """Add a till to a store."""
    terminal = service.terminal_create(uow, store_code=store_code, code=data.code)
    uow.commit()
    return terminal


@router.post(
    "/stores/{store_code}/terminals/{terminal_code}/key",
    response_model=TerminalKey,
    status_code=201,
)
def issue_key(uow: UowDep, store_code: str, terminal_code: str, _who: StoreAdmin) -> TerminalKey:
    """Issue a new till API key (shown once; the old key stops working)."""
    key = service.terminal_issue_key(uow, store_code=store_code, terminal_code=terminal_code)
    uow.commit()
    return key


@router.delete("/stores/{store_code}/terminals/{terminal_code}/key", response_model=TerminalRead)
def revoke_key(uow: UowDep, store_code: str, terminal_code: str, _who: StoreAdmin) -> Terminal:
    """Revoke a till's API key."""
    terminal = service.terminal_revoke_key(uow, store_code=store_code, terminal_code=terminal_code)
    uow.commit()
    return terminal
