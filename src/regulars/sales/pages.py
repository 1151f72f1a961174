"""Staff pages of receipts: find one by number, store or terminal, and read it whole."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator

from regulars.core.config import get_settings
from regulars.core.schemas import Day
from regulars.core.timeutil import local_day
from regulars.core.web import IdPath, UowDep
from regulars.sales import queries
from regulars.staff.rules import store_scope
from regulars.staff.web import PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("sales.read"))]
LIMIT = 50


def _blank_is_none(value: object) -> object:
    """An empty date field of the search form is no date."""
    return None if value == "" else value


@router.get("/receipts", response_class=HTMLResponse)
def receipts_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    receipt_no: Annotated[str | None, Query(max_length=64)] = None,
    store: Annotated[str | None, Query(max_length=32)] = None,
    terminal: Annotated[str | None, Query(max_length=32)] = None,
    day: Annotated[Day | None, BeforeValidator(_blank_is_none), Query()] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=2000)] = 1,
) -> HTMLResponse:
    """Find receipts by exact number, store, terminal or day (store managers: their
    stores), newest first, a page at a time."""
    filters = {
        "receipt_no": (receipt_no or "").strip(),
        "store": (store or "").strip(),
        "terminal": (terminal or "").strip(),
        "day": day.isoformat() if day else "",
    }
    searched = any(filters.values())
    since, until = local_day(day, get_settings().timezone) if day else (None, None)
    found = (
        queries.receipt_find(
            uow.session,
            receipt_no=filters["receipt_no"] or None,
            store_code=filters["store"] or None,
            terminal_code=filters["terminal"] or None,
            store_ids=store_scope(ctx.account.role, ctx.account.store_ids),
            since=since,
            until=until,
            limit=LIMIT,
            offset=(page_no - 1) * LIMIT,
        )
        if searched
        else []
    )
    data = {
        "filters": filters,
        "query": urlencode(filters),
        "searched": searched,
        "receipts": found,
        "limit": LIMIT,
        "page_no": page_no,
    }
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
