"""Staff pages of receipts: find one by number, store or terminal, and read it whole."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.core.web import IdPath, UowDep
from regulars.sales import queries
from regulars.staff.rules import store_scope
from regulars.staff.web import PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("sales.read"))]
LIMIT = 50


@router.get("/receipts", response_class=HTMLResponse)
def receipts_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    receipt_no: Annotated[str | None, Query(max_length=64)] = None,
    store: Annotated[str | None, Query(max_length=32)] = None,
    terminal: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """Find receipts by exact number, store or terminal (store managers: their stores)."""
    filters = {
        "receipt_no": (receipt_no or "").strip(),
        "store": (store or "").strip(),
        "terminal": (terminal or "").strip(),
    }
    searched = any(filters.values())
    found = (
        queries.receipt_find(
            uow.session,
            receipt_no=filters["receipt_no"] or None,
            store_code=filters["store"] or None,
            terminal_code=filters["terminal"] or None,
            store_ids=store_scope(ctx.account.role, ctx.account.store_ids),
            limit=LIMIT,
        )
        if searched
        else []
    )
    data = {"filters": filters, "searched": searched, "receipts": found, "limit": LIMIT}
    return page(request, ctx, "sales/receipts.html", data)


@router.get("/receipts/{receipt_id}", response_class=HTMLResponse)
def receipt_page(request: Request, uow: UowDep, ctx: Reader, receipt_id: IdPath) -> HTMLResponse:
    """One receipt: its facts, payments, lines with returned quantities, returns, original.

    Another store's receipt is "not found" for a store manager (ids cannot be probed).
    """
    receipt = queries.receipt_detail(
        uow.session,
        receipt_id=receipt_id,
        store_ids=store_scope(ctx.account.role, ctx.account.store_ids),
    )
    return page(request, ctx, "sales/receipt.html", {"receipt": receipt})
