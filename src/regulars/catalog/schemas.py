"""Request and response models of the catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from regulars.catalog import rules
from regulars.core.schemas import ReadSchema, Schema, domain_check

Barcode = Annotated[str, AfterValidator(lambda v: domain_check(rules.normalise_barcode, v))]
Price = Annotated[Decimal, Field(ge=0, le=Decimal("10000000"), max_digits=12, decimal_places=2)]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_.-]+$")]
Name = Annotated[str, Field(max_length=200)]


class ProductBase(Schema):
    """Fields of a product that staff maintain."""

    barcode: Barcode | None = None
    name_zh: Name | None = None
    name_en: Name | None = None
    department: Annotated[str, Field(max_length=100)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    subcategory: Annotated[str, Field(max_length=100)] | None = None
    brand: Annotated[str, Field(max_length=100)] | None = None
    manufacturer_code: Code | None = None
    unit_price: Price | None = None
    cost_price: Price | None = None
    package_size: Annotated[str, Field(max_length=50)] | None = None
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=30)]], Field(max_length=20)
    ] = []


class ProductCreate(ProductBase):
    """A new product; ``sku`` is the chain's own article number."""

    sku: Code


class ProductUpdate(Schema):
    """Partial update of a product."""

    barcode: Barcode | None = None
    name_zh: Name | None = None
    name_en: Name | None = None
    department: Annotated[str, Field(max_length=100)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    subcategory: Annotated[str, Field(max_length=100)] | None = None
    brand: Annotated[str, Field(max_length=100)] | None = None
    unit_price: Price | None = None
    cost_price: Price | None = None
    package_size: Annotated[str, Field(max_length=50)] | None = None
    tags: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=30)]], Field(max_length=20)]
        | None
    ) = None
    active: bool | None = None
    # The manufacturer by its code (added if new, as on create); null: none.
    manufacturer_code: Code | None = None


# The product fields staff type as text, on the staff pages and the command line.
PRODUCT_TEXT_FIELDS = (
    "sku",
    "barcode",
    "name_zh",
    "name_en",
    "department",
    "category",
    "subcategory",
    "brand",
    "manufacturer_code",
    "unit_price",
    "cost_price",
    "package_size",
    "tags",
)


def product_typed(typed: Mapping[str, str]) -> dict[str, Any]:
    """Typed text as the fields of a ``ProductCreate`` or ``ProductUpdate``.

    Only the fields given are returned (an update changes only those). An empty box is
    ``None``: the field is left empty, a price included (an empty price box clears the
    price, it does not keep the old one); tags are comma-separated (ASCII or Chinese
    commas) and an empty box is no tags. Prices stay text: the schema checks them and
    names the field when one is not a number.
    """
    values: dict[str, Any] = {}
    for name in PRODUCT_TEXT_FIELDS:
        if name not in typed:
            continue
        text = typed[name].strip()
        if name == "sku" and not text:
            continue  # "required", rather than "not text"
        if name == "tags":
            values[name] = [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]
        else:
            values[name] = text or None
    return values


class ProductRead(ReadSchema):
    """A product as the API shows it."""

    id: int
    sku: str
    barcode: str | None
    name_zh: str | None
    name_en: str | None
    department: str | None
    category: str | None
    subcategory: str | None
    brand: str | None
    manufacturer_id: int | None
    unit_price: Decimal | None
    cost_price: Decimal | None
    package_size: str | None
    tags: list[str]
    active: bool
    needs_review: bool
    is_demo: bool


class StoreCreate(Schema):
    """A new store."""

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    city: Annotated[str, Field(max_length=100)] | None = None
    address: Annotated[str, Field(max_length=300)] | None = None


class StoreRead(ReadSchema):
    """A store."""

    id: int
    code: str
    name: str
    city: str | None
    address: str | None
    is_demo: bool


class TerminalCreate(Schema):
    """A new till in a store."""

    code: Code


class TerminalRead(ReadSchema):
    """A till (its key is never shown again after it is issued)."""

    id: int
    store_id: int
    code: str
    api_key_prefix: str | None
    key_issued_at: datetime | None
    key_revoked_at: datetime | None


class TerminalKey(Schema):
    """A freshly issued till API key: shown once, stored only hashed."""

    terminal_id: int
    store_code: str
    terminal_code: str
    api_key: str
