"""Writes of the catalogue. Services flush but never commit."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from regulars.catalog.models import Manufacturer, Product, Store, Terminal
from regulars.catalog.queries import TillKeys, hash_api_key, product_get, store_by_code
from regulars.catalog.schemas import (
    ProductCreate,
    ProductUpdate,
    StoreCreate,
    TerminalKey,
    product_typed,
)
from regulars.core.errors import Conflict, NotFound
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork


def manufacturer_ensure(uow: UnitOfWork, *, code: str, name: str | None = None) -> Manufacturer:
    """Return the manufacturer with ``code``, creating it when new."""
    found = uow.session.scalars(select(Manufacturer).where(Manufacturer.code == code)).first()
    if found is None:
        found = Manufacturer(code=code, name=name or code)
        uow.session.add(found)
        uow.flush()
    return found


def product_create(uow: UnitOfWork, *, data: ProductCreate, is_demo: bool = False) -> Product:
    """Add a product; SKU and barcode must be new. A product without a name in either
    language is *to review* (as a till's unknown barcode is) until it is given one."""
    session = uow.session
    if session.scalars(select(Product.id).where(Product.sku == data.sku)).first() is not None:
        raise Conflict(_("SKU {sku} already exists"), field="sku", sku=data.sku)
    if (
        data.barcode
        and session.scalars(select(Product.id).where(Product.barcode == data.barcode)).first()
    ):
        raise Conflict(_("barcode {barcode} already exists"), field="barcode", barcode=data.barcode)
    fields = data.model_dump(exclude={"manufacturer_code"})
    product = Product(**fields, is_demo=is_demo, needs_review=not (data.name_zh or data.name_en))
    if data.manufacturer_code:
        product.manufacturer_id = manufacturer_ensure(uow, code=data.manufacturer_code).id
    session.add(product)
    uow.flush()
    return product


def product_update(uow: UnitOfWork, *, product_id: int, data: ProductUpdate) -> Product:
    """Change the fields present in ``data``; a manufacturer code names (or adds) the
    manufacturer, a null one removes it."""
    product = product_get(uow.session, product_id=product_id)
    changes = data.model_dump(exclude_unset=True)
    if "manufacturer_code" in changes:
        code = changes.pop("manufacturer_code")
        product.manufacturer_id = manufacturer_ensure(uow, code=code).id if code else None
    barcode = changes.get("barcode")
    if barcode and barcode != product.barcode:
        other = uow.session.scalars(select(Product.id).where(Product.barcode == barcode)).first()
        if other is not None:
            raise Conflict(_("barcode {barcode} already exists"), field="barcode", barcode=barcode)
    for name, value in changes.items():
        if name == "tags" and value is None:
            value = []
        setattr(product, name, value)
    if product.needs_review and (product.name_en or product.name_zh):
        product.needs_review = False
    uow.flush()
    return product


@dataclass(frozen=True)
class ProductEdit:
    """A product added or changed from typed text, and what the audit trail records of it."""

    product: Product
    detail: dict[str, Any]


def product_add(uow: UnitOfWork, *, typed: Mapping[str, str], active: bool | None) -> ProductEdit:
    """Add a product from the text staff typed (the staff page, the CLI: ``product_typed``);
    raises the schema's ``ValidationError`` or the service's domain errors."""
    product = product_create(uow, data=ProductCreate.model_validate(product_typed(typed)))
    if active is False:
        product.active = False
        uow.flush()
    return ProductEdit(product, {"product_id": product.id, "sku": product.sku})


def product_edit(
    uow: UnitOfWork, *, product_id: int, typed: Mapping[str, str], active: bool | None
) -> ProductEdit:
    """Change the fields staff typed (only those; ``active`` when given); the detail says
    which fields and whether the change completed a product to review."""
    changes = product_typed(typed)
    if active is not None:
        changes["active"] = active
    data = ProductUpdate.model_validate(changes)
    was_to_review = product_get(uow.session, product_id=product_id).needs_review
    product = product_update(uow, product_id=product_id, data=data)
    detail = {
        "product_id": product.id,
        "sku": product.sku,
        "fields": sorted(data.model_fields_set),
        "reviewed": was_to_review and not product.needs_review,
    }
    return ProductEdit(product, detail)


def product_placeholder(uow: UnitOfWork, *, barcode: str | None, sku: str | None) -> Product:
    """Create a product the catalogue does not know yet, seen first at a till.

    Refusing the receipt would lose a sale; the product is kept for staff to complete.
    Two tills may sell the same new barcode at once: ``ON CONFLICT DO NOTHING`` lets the
    second find the first's product instead of failing on the unique index.
    """
    code = sku or f"BC{barcode}"
    dialect = uow.session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    uow.session.execute(
        builder(Product)
        .values(
            sku=code,
            barcode=barcode,
            tags=[],
            needs_review=True,
            active=True,
            is_demo=False,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    key = Product.barcode == barcode if barcode else Product.sku == code
    return uow.session.scalars(select(Product).where(key)).one()


def store_create(uow: UnitOfWork, *, data: StoreCreate, is_demo: bool = False) -> Store:
    """Add a store with a new code."""
    if uow.session.scalars(select(Store.id).where(Store.code == data.code)).first() is not None:
        raise Conflict(_("store {code} already exists"), field="code", code=data.code)
    store = Store(**data.model_dump(), is_demo=is_demo)
    uow.session.add(store)
    uow.flush()
    return store


def terminal_create(uow: UnitOfWork, *, store_code: str, code: str) -> Terminal:
    """Add a till to a store."""
    store = store_by_code(uow.session, code=store_code)
    exists = uow.session.scalars(
        select(Terminal.id).where(Terminal.store_id == store.id, Terminal.code == code)
    ).first()
    if exists is not None:
        raise Conflict(_("terminal {code} already exists in this store"), field="code", code=code)
    terminal = Terminal(store_id=store.id, code=code)
    uow.session.add(terminal)
    uow.flush()
    return terminal


def _terminal(uow: UnitOfWork, store_code: str, terminal_code: str) -> tuple[Store, Terminal]:
    store = store_by_code(uow.session, code=store_code)
    terminal = uow.session.scalars(
        select(Terminal).where(Terminal.store_id == store.id, Terminal.code == terminal_code)
    ).first()
    if terminal is None:
        raise NotFound(_("terminal {code} not found"), field="terminal", code=terminal_code)
    return store, terminal


def terminal_issue_key(uow: UnitOfWork, *, store_code: str, terminal_code: str) -> TerminalKey:
    """Issue a new API key for a till (replacing any old one); the key is shown only now."""
    store, terminal = _terminal(uow, store_code, terminal_code)
    prefix = secrets.token_hex(6)
    api_key = f"rgt_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    terminal.api_key_prefix = prefix
    terminal.api_key_hash = hash_api_key(api_key)
    terminal.key_issued_at = utcnow()
    terminal.key_revoked_at = None
    uow.flush()
    TillKeys.changed()
    return TerminalKey(
        terminal_id=terminal.id, store_code=store.code, terminal_code=terminal.code, api_key=api_key
    )


def terminal_revoke_key(uow: UnitOfWork, *, store_code: str, terminal_code: str) -> Terminal:
    """Revoke a till's API key at once."""
    _store, terminal = _terminal(uow, store_code, terminal_code)
    terminal.key_revoked_at = utcnow()
    uow.flush()
    TillKeys.changed()
    return terminal
