"""Staff pages of baskets: browse rules, an item's companions, the network chart, CSV export,
the shelf-adjacency and promotion reports, and "mine now"."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from regulars.baskets import queries, reports
from regulars.baskets.models import BasketRun
from regulars.baskets.network import network_svg
from regulars.baskets.reports import Edge
from regulars.baskets.rules import LEVELS, label_level
from regulars.baskets.runner import miner_get
from regulars.baskets.schemas import MineIn
from regulars.catalog.queries import store_list
from regulars.core.errors import Forbidden, NotFound
from regulars.core.i18n import _, translate
from regulars.core.reasons import invalid_input
from regulars.core.schemas import MAX_ID
from regulars.core.web import UowDep
from regulars.staff.audit import audit_record
from regulars.staff.web import Csrf, PageContext, page, page_require

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageContext, Depends(page_require("baskets.read"))]
log = logging.getLogger(__name__)
PAGE = 50
NETWORK_RULES = 30
Text = Annotated[str | None, Query(max_length=100)]


def _whole(text: str | None) -> int | None:
    """A row id typed or chosen in a form, or ``None``."""
    value = (text or "").strip()
    number = int(value) if value.isascii() and value.isdigit() and len(value) < 11 else 0
    return number if 0 < number <= MAX_ID else None


@dataclass(frozen=True)
class Scope:
    """Which run a page shows: one chosen, or the one in force for a level and store."""

    run_id: int | None
    level: str
    store_id: int | None

    def query(self, **extra: Any) -> str:
        """The query string that shows this scope again, with ``extra`` fields."""
        fields: dict[str, Any] = {"level": self.level}
        if self.run_id:
            fields["run"] = self.run_id
        if self.store_id:
            fields["store"] = self.store_id
        fields.update({k: v for k, v in extra.items() if v not in (None, "")})
        return urlencode(fields)


def _scope(run: str | None, level: str | None, store: str | None) -> Scope:
    return Scope(
        run_id=_whole(run),
        level=level if level in LEVELS else "product",
        store_id=_whole(store),
    )


def scope_query(run: Text = None, level: Text = None, store: Text = None) -> Scope:
    """The run's scope from the page's query (``run``, ``level``, ``store``)."""
    return _scope(run, level, store)


ScopeQuery = Annotated[Scope, Depends(scope_query)]


def _run_of(session: Session, scope: Scope) -> BasketRun | None:
    """The scope's run, or ``None`` when nothing has been mined for it yet."""
    try:
        return queries.run_chosen(
            session, run_id=scope.run_id, level=scope.level, store_id=scope.store_id
        )
    except NotFound:
        return None


class RuleForm:
    """The query of the rules page and its CSV: the run's scope and the filter as typed."""

    def __init__(
        self,
        run: Text = None,
        level: Text = None,
        store: Text = None,
        min_support: Text = None,
        min_confidence: Text = None,
        min_lift: Text = None,
        item: Text = None,
        order: Text = None,
    ) -> None:
        """Read the scope and the filter; what cannot be read does not filter."""
        self.scope = _scope(run, level, store)
        self.where = queries.rule_filter(
            min_support=min_support,
            min_confidence=min_confidence,
            min_lift=min_lift,
            item=item,
            order=order,
        )
        # shown again in the filter boxes as typed, and carried by the export link
        self.typed = {
            "min_support": min_support or "",
            "min_confidence": min_confidence or "",
            "min_lift": min_lift or "",
            "item": item or "",
            "order": self.where.order,
        }


RuleQuery = Annotated[RuleForm, Depends()]


def _common(uow: UowDep, scope: Scope, run: BasketRun | None) -> dict[str, Any]:
    """What every basket page shows: the scope's choices and the run it reads."""
    stores = store_list(uow.session)
    names = {s.id: s.name for s in stores}
    return {
        "scope": scope,
        "run": run,
        "levels": LEVELS,
        "level_label": label_level,
        "stores": stores,
        "store_name": lambda store_id: names.get(store_id) if store_id else None,
        "runs": queries.runs_list(uow.session, limit=20),
    }


@router.get("/baskets", response_class=HTMLResponse)
def rules_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    form: RuleQuery,
    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
    started: Text = None,
) -> HTMLResponse:
    """Browse and filter the rules of a run, with links to export, chart and companions."""
    found = _run_of(uow.session, form.scope)
    total, rules = (
        queries.rules_page(
            uow.session,
            run=found,
            where=form.where,
            limit=PAGE,
            offset=(page_no - 1) * PAGE,
            locale=ctx.locale,
        )
        if found is not None
        else (0, [])
    )
    data = {
        **_common(uow, form.scope, found),
        "rules": rules,
        "total": total,
        "filters": form.typed,
        "page_no": page_no,
        "page_size": PAGE,
        "orders": tuple(queries.ORDERS),
        "started": bool(started),
        "export_query": form.scope.query(**form.typed),
    }
    return page(request, ctx, "baskets/rules.html", data)


@router.get("/baskets/rules.csv", response_class=Response)
def rules_export(uow: UowDep, ctx: Reader, form: RuleQuery) -> Response:
    """The filtered rules of a run as CSV."""
    found = _run_of(uow.session, form.scope)
    if found is None:
        raise NotFound(_("no rules have been mined yet at this level"), field="run_id")
    name, text = reports.rules_export(uow.session, run=found, where=form.where, locale=ctx.locale)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/baskets/companions", response_class=HTMLResponse)
def companions_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    item: Annotated[str, Query(min_length=1, max_length=100)],
    scope: ScopeQuery,
) -> HTMLResponse:
    """One item's companions: what shoppers who buy it also buy, and what leads to it."""
    found = _run_of(uow.session, scope)
    with_it, to_it = (
        queries.rules_companions(uow.session, run_id=found.id, item=item)
        if found is not None
        else ([], [])
    )
    level_of = found.level if found else scope.level
    ref = queries.item_refs(uow.session, level=level_of, keys=[item], locale=ctx.locale)[item]
    data = {
        **_common(uow, scope, found),
        "item": ref,
        "bought_with": queries.rule_reads(
            uow.session, level=level_of, rules=with_it, locale=ctx.locale
        ),
        "leads_here": queries.rule_reads(
            uow.session, level=level_of, rules=to_it, locale=ctx.locale
        ),
    }
    return page(request, ctx, "baskets/companions.html", data)


@router.get("/baskets/network", response_class=HTMLResponse)
def network_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    scope: ScopeQuery,
    top: Text = None,
) -> HTMLResponse:
    """The strongest one-to-one rules of a run as a network chart, with their table."""
    found = _run_of(uow.session, scope)
    shown = int(queries.as_number(top, low=2, high=80) or NETWORK_RULES)
    edges = reports.strongest_pairs(uow.session, run=found, limit=shown) if found else []
    refs = queries.item_refs(
        uow.session,
        level=found.level if found else scope.level,
        keys=[k for e in edges for k in (e.source, e.target)],
        locale=ctx.locale,
    )

    def describe(edge: Edge) -> str:
        return translate(
            _("{source} ⇒ {target}: confidence {confidence}, lift {lift}"),
            ctx.locale,
            source=refs[edge.source].name,
            target=refs[edge.target].name,
            confidence=f"{edge.confidence:.0%}",
            lift=f"{edge.lift:.2f}",
        )

    chart = (
        network_svg(
            edges,
            name=lambda key: refs[key].name,
            title=translate(_("The strongest rules"), ctx.locale),
            describe=describe,
        )
        if edges
        else None
    )
    data = {
        **_common(uow, scope, found),
        "chart": chart,
        "edges": edges,
        "refs": refs,
        "top": shown,
    }
    return page(request, ctx, "baskets/network.html", data)


@router.get("/baskets/shelf", response_class=HTMLResponse)
def shelf_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    store: Text = None,
    department: Text = None,
    together: Text = None,
) -> HTMLResponse:
    """Category pairs bought together well above chance that sit in different departments."""
    scope = _scope(None, "category", store)
    found = _run_of(uow.session, scope)
    chosen = (department or "").strip() or None
    pairs = (
        reports.shelf_pairs(
            uow.session, run=found, department=chosen, apart_only=not together, limit=PAGE
        )
        if found is not None
        else []
    )
    departments = sorted(set(reports.category_departments(uow.session).values()))
    data = {
        **_common(uow, scope, found),
        "pairs": pairs,
        "departments": departments,
        "department": chosen or "",
        "together": bool(together),
    }
    return page(request, ctx, "baskets/shelf.html", data)


@router.get("/baskets/promotion", response_class=HTMLResponse)
def promotion_page(
    request: Request,
    uow: UowDep,
    ctx: Reader,
    scope: ScopeQuery,
) -> HTMLResponse:
    """Products ranked by how strongly they pull others into the basket."""
    found = _run_of(uow.session, scope)
    items = reports.promotion(uow.session, run=found, locale=ctx.locale) if found else []
    data = {**_common(uow, scope, found), "items": items}
    return page(request, ctx, "baskets/promotion.html", data)


def _mine_quietly(session_factory: sessionmaker[Session], data: MineIn, started_by: str) -> None:
    """Mine in the background; a failure is on the run's row for staff, not a traceback."""
    try:
        miner_get()(session_factory, data=data, started_by=started_by)
    except Exception as exc:  # recorded as a failed run by the miner
        log.warning("basket mining failed: %s: %s", type(exc).__name__, exc)


@router.post("/baskets/mine")
def mine_now(
    request: Request,
    uow: UowDep,
    ctx: Csrf,
    tasks: BackgroundTasks,
    level: Annotated[str, Form(max_length=10)] = "product",
    store: Annotated[str, Form(max_length=12)] = "",
    period_from: Annotated[str, Form(max_length=10)] = "",
    period_to: Annotated[str, Form(max_length=10)] = "",
    min_support: Annotated[str, Form(max_length=20)] = "",
    min_confidence: Annotated[str, Form(max_length=20)] = "",
    min_lift: Annotated[str, Form(max_length=20)] = "",
) -> RedirectResponse:
    """Start a run on the local engine after the answer is sent; the runs table shows it."""
    if not ctx.can("baskets.mine"):
        raise Forbidden(_("your role may not do this"))
    values: dict[str, Any] = {
        "level": level,
        "store_id": _whole(store),
        "period_from": period_from.strip() or None,
        "period_to": period_to.strip() or None,
    }
    for name, text in (
        ("min_support", min_support),
        ("min_confidence", min_confidence),
        ("min_lift", min_lift),
    ):
        if text.strip():
            values[name] = text.strip().replace(",", ".")
    try:
        data = MineIn.model_validate(values)
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    miner_get()  # refuses now, not in the background, when this process cannot mine
    audit_record(
        uow,
        actor=ctx.account,
        action="baskets_mine",
        page="/baskets",
        detail=data.model_dump(mode="json"),
    )
    uow.commit()
    tasks.add_task(_mine_quietly, request.app.state.session_factory, data, ctx.account.username)
    scope = Scope(run_id=None, level=data.level, store_id=data.store_id)
    return RedirectResponse(f"/baskets?{scope.query(started=1)}", status_code=303)
