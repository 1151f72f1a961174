"""What the sales domain adds to a member's profile page and data export: the receipts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from regulars.catalog.models import Product, Store
from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.members.extensions import Panel
from regulars.sales.models import Receipt, ReceiptLine
from regulars.sales.queries import receipts_elsewhere, receipts_of_member

TIMELINE = 20


def _lines_by_receipt(uow: UnitOfWork, receipt_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Lines of several receipts with their product names, in one query."""
    rows = uow.session.execute(
        select(ReceiptLine, Product.name_zh, Product.name_en, Product.sku)
        .join(Product, Product.id == ReceiptLine.product_id)
        .where(ReceiptLine.receipt_id.in_(receipt_ids))
        .order_by(ReceiptLine.receipt_id, ReceiptLine.line_no)
    )
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line, name_zh, name_en, sku in rows:
        lines[line.receipt_id].append(
            {
                "line_no": line.line_no,
                "product": name_zh or name_en or sku,
                "name_en": name_en or name_zh or sku,
                "sku": sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "amount": line.amount,
            }
        )
    return lines


class ReceiptsExtension:
    """The receipts timeline on the profile, and the receipts in a PIPL export."""

    key = "receipts"

    def panel(
        self, uow: UnitOfWork, *, member_id: int, store_ids: Collection[int] | None = None
    ) -> Panel:
        """The newest receipts with their lines, of ``store_ids`` only when given (a store
        manager's: those the receipts pages show them), with how many others there are."""
        receipts = receipts_of_member(
            uow.session, member_id=member_id, store_ids=store_ids, limit=TIMELINE
        )
        elsewhere = (
            0
            if store_ids is None
            else receipts_elsewhere(uow.session, member_id=member_id, store_ids=store_ids)
        )
        stores = {
            s.id: s.code
            for s in uow.session.scalars(
                select(Store).where(Store.id.in_({r.store_id for r in receipts}))
            )
        }
        lines = _lines_by_receipt(uow, [r.id for r in receipts])
        items = [
            {"receipt": r, "store": stores.get(r.store_id, "?"), "lines": lines.get(r.id, [])}
            for r in receipts
        ]
        return Panel(
            key=self.key,
            title=_("Receipts"),
            template="sales/receipts_panel.html",
            data={"items": items, "limit": TIMELINE, "elsewhere": elsewhere},
        )

    def export(self, uow: UnitOfWork, *, member_id: int) -> list[dict[str, Any]]:
        """Every receipt of the member with its lines."""
        receipts = list(
            uow.session.scalars(
                select(Receipt).where(Receipt.member_id == member_id).order_by(Receipt.occurred_at)
            )
        )
        lines = _lines_by_receipt(uow, [r.id for r in receipts])
        return [
            {
                "receipt_no": r.receipt_no,
                "kind": r.kind,
                "occurred_at": r.occurred_at.isoformat(),
                "total": str(r.total),
                "payments": r.payments,
                "lines": [
                    {
                        **line,
                        "quantity": str(line["quantity"]),
                        "unit_price": str(line["unit_price"]),
                        "discount": str(line["discount"]),
                        "amount": str(line["amount"]),
                    }
                    for line in lines.get(r.id, [])
                ],
            }
            for r in receipts
        ]
