"""Request and response models of the catalogue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

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
