"""Products on the command line: ``regulars products find|show|add|set``.

The same services as the staff pages: a product a till created (``to review``) is
completed with ``set`` and a name. Text options follow the page's rules
(:func:`regulars.catalog.schemas.product_typed`): an option not given leaves its field
as it is, an empty one (``--price ""``) empties it. Headings and errors are catalogue
messages in the configured language (``REGULARS_DEFAULT_LOCALE``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table

from regulars.catalog import queries, service
from regulars.catalog.models import Product
from regulars.core.config import get_settings
from regulars.core.errors import DomainError
from regulars.core.i18n import _
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import say
from regulars.staff.audit import audit_record

console = Console()
err = Console(stderr=True)
products_app = typer.Typer(
    help="Products: find, show, add, and complete the ones a till created.",
    no_args_is_help=True,
)

Barcode = Annotated[str | None, typer.Option(help="EAN-13, EAN-8 or UPC-A")]
NameZh = Annotated[str | None, typer.Option("--name-zh", help="name in Chinese")]
NameEn = Annotated[str | None, typer.Option("--name-en", help="name in English")]
Department = Annotated[str | None, typer.Option()]
Category = Annotated[str | None, typer.Option()]
Subcategory = Annotated[str | None, typer.Option()]
Brand = Annotated[str | None, typer.Option()]
Price = Annotated[str | None, typer.Option(help="unit price, e.g. 12.90")]
Cost = Annotated[str | None, typer.Option(help="cost price, e.g. 8.10")]
PackageSize = Annotated[str | None, typer.Option("--package-size")]
Tags = Annotated[str | None, typer.Option(help="comma-separated, e.g. fresh,baby")]


def _typed(**options: str | None) -> dict[str, str]:
    """The options given, as the text a form would have sent."""
    return {name: value for name, value in options.items() if value is not None}


def _name(product: Product) -> str:
    zh = get_settings().default_locale == "zh_CN"
    shown = (product.name_zh or product.name_en) if zh else (product.name_en or product.name_zh)
    return shown or ""


def _money(value: object) -> str:
    return "" if value is None else str(value)


@products_app.command("find")
def products_find(
    text: Annotated[str | None, typer.Argument(help="barcode, SKU, name or brand")] = None,
    review: Annotated[bool, typer.Option("--review", help="only products to review")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Find products by barcode, SKU, name or brand; ``--review``: only those to review."""
    with context.new_uow() as uow:
        found = queries.product_search(
            uow.session, text=text or None, needs_review=True if review else None, limit=limit
        )
        # SKU and barcode are what one types next: never cut; the rest folds.
        table = Table(
            Column("id", no_wrap=True),
            Column("SKU", no_wrap=True),
            Column(say(_("Barcode")), no_wrap=True),
            Column(say(_("Product name")), overflow="fold"),
            Column(say(_("Category")), overflow="fold"),
            Column(say(_("Price")), overflow="fold"),
            Column(say(_("to review")), overflow="fold"),
        )
        for p in found:
            table.add_row(
                str(p.id),
                p.sku,
                p.barcode or "",
                _name(p),
                " › ".join(x for x in (p.department, p.category, p.subcategory) if x),
                _money(p.unit_price),
                say(_("yes")) if p.needs_review else "",
            )
    console.print(table)
    if not found:
        console.print(say(_("Nothing found.")))


def _print(product: Product, manufacturer: str | None) -> None:
    facts = Table(show_header=False, title=f"{product.sku} {_name(product)}".strip())
    rows = [
        ("id", str(product.id)),
        ("SKU", product.sku),
        (say(_("Barcode")), product.barcode or ""),
        (say(_("Name (Chinese)")), product.name_zh or ""),
        (say(_("Name (English)")), product.name_en or ""),
        (say(_("Department")), product.department or ""),
        (say(_("Category")), product.category or ""),
        (say(_("Subcategory")), product.subcategory or ""),
        (say(_("Brand")), product.brand or ""),
        (say(_("Manufacturer code")), manufacturer or ""),
        (say(_("Unit price")), _money(product.unit_price)),
        (say(_("Cost price")), _money(product.cost_price)),
        (say(_("Package size")), product.package_size or ""),
        (say(_("Tags")), ", ".join(product.tags or [])),
        (say(_("active")), say(_("yes")) if product.active else say(_("no"))),
        (say(_("to review")), say(_("yes")) if product.needs_review else say(_("no"))),
    ]
    for name, value in rows:
        facts.add_row(name, value)
    console.print(facts)


@products_app.command("show")
def products_show(
    key: Annotated[str, typer.Argument(help="barcode, SKU or id (tried in this order)")],
) -> None:
    """One product, found by its barcode, SKU or id."""
    with context.new_uow() as uow:
        try:
            product = queries.product_lookup(uow.session, key=key)
        except DomainError as exc:
            fail(exc)
        maker = queries.manufacturer_of(uow.session, product)
        _print(product, maker.code if maker else None)


@products_app.command("add")
def products_add(
    sku: Annotated[str, typer.Option(help="the chain's own article number")],
    barcode: Barcode = None,
    name_zh: NameZh = None,
    name_en: NameEn = None,
    department: Department = None,
    category: Category = None,
    subcategory: Subcategory = None,
    brand: Brand = None,
    manufacturer: Annotated[str | None, typer.Option(help="manufacturer code")] = None,
    price: Price = None,
    cost: Cost = None,
    package_size: PackageSize = None,
    tags: Tags = None,
) -> None:
    """Add a product; SKU and barcode must be new."""
    typed = _typed(
        sku=sku,
        barcode=barcode,
        name_zh=name_zh,
        name_en=name_en,
        department=department,
        category=category,
        subcategory=subcategory,
        brand=brand,
        manufacturer_code=manufacturer,
        unit_price=price,
        cost_price=cost,
        package_size=package_size,
        tags=tags,
    )
    with context.new_uow() as uow:
        try:
            added = service.product_add(uow, typed=typed, active=None)
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(uow, actor="cli", action="product_create", page="cli", detail=added.detail)
        uow.commit()
        product = added.product
        console.print(say(_("product {sku} added (id {id})"), sku=product.sku, id=product.id))


@products_app.command("set")
def products_set(
    product_id: Annotated[int, typer.Argument(help="product id", min=1)],
    barcode: Barcode = None,
    name_zh: NameZh = None,
    name_en: NameEn = None,
    department: Department = None,
    category: Category = None,
    subcategory: Subcategory = None,
    brand: Brand = None,
    price: Price = None,
    cost: Cost = None,
    package_size: PackageSize = None,
    tags: Tags = None,
    manufacturer: Annotated[
        str | None, typer.Option(help="manufacturer code (added if new; empty: none)")
    ] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change the fields given (an empty value empties the field); a name completes a
    product to review."""
    typed = _typed(
        manufacturer_code=manufacturer,
        barcode=barcode,
        name_zh=name_zh,
        name_en=name_en,
        department=department,
        category=category,
        subcategory=subcategory,
        brand=brand,
        unit_price=price,
        cost_price=cost,
        package_size=package_size,
        tags=tags,
    )
    with context.new_uow() as uow:
        try:
            edited = service.product_edit(uow, product_id=product_id, typed=typed, active=active)
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(uow, actor="cli", action="product_update", page="cli", detail=edited.detail)
        uow.commit()
        product = edited.product
        maker = queries.manufacturer_of(uow.session, product)
        _print(product, maker.code if maker else None)
