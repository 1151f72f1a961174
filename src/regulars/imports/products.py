"""Bulk load of products: validated like a product created by staff, keyed by SKU.

A row whose SKU is new adds a product; a known SKU updates the fields given (empty cells
keep what is there); a row that changes nothing is *unchanged*, so loading a file twice
changes nothing. A barcode held by another product, or a SKU repeated in the file, is a
bad row. Manufacturers named by ``manufacturer_code`` are created when new.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import polars as pl
from pydantic import ValidationError
from sqlalchemy import Table, insert, select, update

from regulars.catalog.models import Manufacturer, Product
from regulars.catalog.schemas import PRODUCT_TEXT_FIELDS, ProductCreate
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.imports import bulk
from regulars.imports.formats import LINE, LIST_SEPARATOR
from regulars.imports.outcome import (
    Checkpoint,
    Outcome,
    Progress,
    refuse_nul,
    report_validation,
    say,
)

BATCH = 5000
# Core tables, not the ORM entities: the ORM's bulk insert splits rows by which keys are None.
_PRODUCT = cast(Table, Product.__table__)
_MAKER = cast(Table, Manufacturer.__table__)
# The product's text fields but its tags (a file's tags column is a list: read apart).
_FIELDS = tuple(f for f in PRODUCT_TEXT_FIELDS if f != "tags")
_COMPARED = (
    *(f for f in _FIELDS if f not in ("sku", "manufacturer_code")),
    "tags",
    "manufacturer_id",
)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse(outcome: Outcome, row: dict[str, Any]) -> tuple[ProductCreate, set[str]] | None:
    """Validate one row with the product schema; return it and the fields the row gives."""
    if refuse_nul(outcome, row):
        return None
    given: dict[str, Any] = {k: row[k] for k in _FIELDS if row.get(k) is not None}
    if row.get("tags") is not None:
        given["tags"] = [t.strip() for t in str(row["tags"]).split(LIST_SEPARATOR) if t.strip()]
    try:
        return ProductCreate.model_validate(given), set(given)
    except ValidationError as exc:
        report_validation(outcome, int(row[LINE]), exc, {})
        return None


def _manufacturers(uow: UnitOfWork, wanted: dict[str, str | None], is_demo: bool) -> dict[str, int]:
    """Ids of the manufacturers named in a batch, creating the new ones in one insert."""
    ids: dict[str, int] = {}
    codes = sorted(wanted)
    for chunk in _chunks(codes, 5000):
        ids.update(
            {
                str(c): int(i)
                for c, i in uow.session.execute(
                    select(Manufacturer.code, Manufacturer.id).where(Manufacturer.code.in_(chunk))
                )
            }
        )
    new = [{"code": c, "name": wanted[c] or c, "is_demo": is_demo} for c in codes if c not in ids]
    if new:
        made = uow.session.execute(
            insert(_MAKER).returning(_MAKER.c.code, _MAKER.c.id, sort_by_parameter_order=True),
            new,
        )
        ids.update({str(row[0]): int(str(row[1])) for row in made})
    return ids


def products_load(
    uow: UnitOfWork,
    frame: pl.DataFrame,
    *,
    outcome: Outcome,
    is_demo: bool = False,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> None:
    """Load product rows (see the module docstring)."""
    outcome.total += frame.height
    rows = frame.to_dicts()
    seen_sku: dict[str, int] = {}
    seen_barcode: dict[str, int] = {}
    for done, batch in enumerate(_chunks(rows, BATCH)):
        items: list[tuple[int, ProductCreate, set[str], str | None]] = []
        for row in batch:
            line = int(row[LINE])
            parsed = _parse(outcome, row)
            if parsed is None:
                continue
            data, given = parsed
            if data.sku in seen_sku:
                outcome.add(
                    line, "sku", say(_("repeats line {line}"), line=seen_sku[data.sku]), data.sku
                )
                continue
            if data.barcode and data.barcode in seen_barcode:
                outcome.add(
                    line,
                    "barcode",
                    say(_("repeats line {line}"), line=seen_barcode[data.barcode]),
                    data.barcode,
                )
                continue
            seen_sku[data.sku] = line
            if data.barcode:
                seen_barcode[data.barcode] = line
            items.append((line, data, given, row.get("manufacturer_name")))
        bulk.import_turn(uow, bulk.waiting_report(progress, done * BATCH, len(rows)))
        _store(uow, items, outcome, is_demo=is_demo)
        uow.flush()
        if checkpoint is not None:
            checkpoint()
        if progress is not None:
            progress("products", min((done + 1) * BATCH, len(rows)), len(rows))


def _store(
    uow: UnitOfWork,
    items: list[tuple[int, ProductCreate, set[str], str | None]],
    outcome: Outcome,
    *,
    is_demo: bool,
) -> None:
    """Insert new products and update known ones for one batch of valid rows (in the
    import's turn, see :func:`bulk.import_turn`)."""
    maker_names: dict[str, str | None] = {}
    for _l, data, _g, name in items:
        if data.manufacturer_code and not maker_names.get(data.manufacturer_code):
            maker_names[data.manufacturer_code] = name
    makers = _manufacturers(uow, maker_names, is_demo)
    skus = [d.sku for _l, d, _g, _n in items]
    barcodes = [d.barcode for _l, d, _g, _n in items if d.barcode]
    known: dict[str, Product] = {}
    holder: dict[str, str] = {}
    for chunk in _chunks(skus, 5000):
        known.update(
            {p.sku: p for p in uow.session.scalars(select(Product).where(Product.sku.in_(chunk)))}
        )
    for chunk in _chunks(barcodes, 5000):
        holder.update(
            {
                str(b): str(s)
                for b, s in uow.session.execute(
                    select(Product.barcode, Product.sku).where(Product.barcode.in_(chunk))
                )
            }
        )
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    for line, data, given, _name in items:
        if data.barcode and holder.get(data.barcode, data.sku) != data.sku:
            outcome.add(
                line,
                "barcode",
                say(
                    _("barcode {barcode} belongs to SKU {sku}"),
                    barcode=data.barcode,
                    sku=holder[data.barcode],
                ),
                data.barcode,
            )
            continue
        values = data.model_dump(exclude={"manufacturer_code"})
        values["manufacturer_id"] = (
            makers[data.manufacturer_code] if data.manufacturer_code else None
        )
        product = known.get(data.sku)
        if product is None:
            new_rows.append(
                {
                    **values,
                    "is_demo": is_demo,
                    "active": True,
                    # No name in either language: to review, as on the form and the API.
                    "needs_review": not (values.get("name_en") or values.get("name_zh")),
                    "created_at": now,
                }
            )
            continue
        wanted = {
            name: values[name]
            for name in _COMPARED
            if (name in given or (name == "manufacturer_id" and "manufacturer_code" in given))
        }
        changes = {k: v for k, v in wanted.items() if getattr(product, k) != v}
        if changes:
            if product.needs_review and (values.get("name_en") or values.get("name_zh")):
                changes["needs_review"] = False
            uow.session.execute(update(Product).where(Product.id == product.id).values(**changes))
            outcome.loaded += 1
        else:
            outcome.unchanged += 1
    if new_rows:
        uow.session.execute(insert(_PRODUCT), new_rows)
        outcome.loaded += len(new_rows)
