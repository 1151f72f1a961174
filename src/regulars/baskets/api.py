"""Basket API: suggestions for the till; runs, rules, companions and reports for staff."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from starlette.background import BackgroundTask

from regulars.baskets import queries, reports
from regulars.baskets.models import BasketRun
from regulars.baskets.runner import miner_get
from regulars.baskets.schemas import (
    CompanionsRead,
    EdgeRead,
    LevelName,
    MineIn,
    NetworkRead,
    PromotionReport,
    RulePage,
    RunRead,
    ShelfReport,
    SuggestIn,
    SuggestionRead,
    SuggestionsRead,
)
from regulars.baskets.till import InForce, TillMemory
from regulars.core.errors import NotFound, Unauthorized
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID
from regulars.core.uow import UnitOfWork
from regulars.core.web import IdPath, UowDep, get_locale
from regulars.staff.api import require
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

router = APIRouter(prefix="/api/v1", tags=["till"])
staff_router = APIRouter(prefix="/api/v1/baskets", tags=["baskets"])
Reader = Annotated[StaffAccount, Depends(require("baskets.read"))]
Miner = Annotated[StaffAccount, Depends(require("baskets.mine"))]
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="The till's own API key")

RunId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="a run; default: the one in force")
]
StoreId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Level = Annotated[LevelName, Query()]
Limit = Annotated[int, Query(ge=1, le=500)]
ItemText = Annotated[str | None, Query(max_length=100)]
Share = Annotated[float | None, Query(ge=0, le=1)]
Threshold = Annotated[float | None, Query(ge=0, le=queries.MAX_THRESHOLD)]
Order = Annotated[Literal["lift", "confidence", "support", "leverage"], Query()]


def till_memory(request: Request) -> TillMemory:
    """The app's memory of till keys and runs in force (made at the first suggestion)."""
    factory = request.app.state.session_factory
    memory: TillMemory | None = getattr(request.app.state, "till_memory", None)
    if memory is None or memory.session_factory is not factory:
        memory = TillMemory(factory)
        request.app.state.till_memory = memory
    return memory


def suggestions_read(found: InForce, data: SuggestIn) -> SuggestionsRead:
    """The answer to the till: up to three suggestions from the index in force."""
    if found.index is None:
        return SuggestionsRead(run_id=None, suggestions=[])
    return SuggestionsRead(
        run_id=found.index.run_id,
        suggestions=[
            SuggestionRead(
                product_id=s.product_id,
                barcode=s.barcode,
                name_zh=s.name_zh,
                name_en=s.name_en,
                score=s.score,
                confidence=s.confidence,
                lift=s.lift,
                because=list(s.because),
            )
            for s in found.index.suggest(data.product_ids, data.barcodes)
        ],
    )


def till_suggestions(memory: TillMemory, api_key: str | None, data: SuggestIn) -> SuggestionsRead:
    """Check the till's key, find the run in force for its store and ask the index.

    Memory answers when it can (see :mod:`regulars.baskets.till`); otherwise the database
    is read, so call this from a worker thread unless :meth:`TillMemory.recall` answered.
    """
    if not api_key:
        raise Unauthorized(_("till API key missing (X-Api-Key)"))
    found = memory.recall(api_key) or memory.lookup(api_key)
    return suggestions_read(found, data)


@router.post("/till/suggestions", response_model=SuggestionsRead)
async def suggestions(
    request: Request,
    data: SuggestIn,
    api_key: Annotated[str | None, Security(_api_key)],
) -> Response:
    """Up to three products to suggest for the basket being scanned, best first.

    Each comes from a rule of the product-level run in force for the till's store (or the
    chain's) whose antecedent is all in the basket and whose consequent is not; the score
    is confidence × lift, the best rule counting when several suggest the same product.
    A revoked till key stops working within 5 seconds; a new run is used within 30.
    """
    memory = till_memory(request)
    # From memory the answer is a few dictionary reads and the index: nothing blocks, so it
    # runs here; a hand-off to a worker thread would cost more than the work on a busy CPU.
    found = memory.recall(api_key) if api_key else None
    if found is None:
        answer = await run_in_threadpool(till_suggestions, memory, api_key, data)
        return Response(answer.model_dump_json(), media_type="application/json")
    # Serialised once here rather than validated again against the response model; a fact
    # past half its time is checked again after the answer is sent.
    again = BackgroundTask(memory.refresh, api_key) if found.due and api_key else None
    return Response(
        suggestions_read(found, data).model_dump_json(),
        media_type="application/json",
        background=again,
    )


def pick_run(uow: UowDep, *, run_id: int | None, level: str, store_id: int | None) -> BasketRun:
    """The run asked for, or the one in force for the level and store, or 404."""
    run = queries.run_chosen(uow.session, run_id=run_id, level=level, store_id=store_id)
    if run is None:
        raise NotFound(_("no rules have been mined yet at this level"), field="run_id")
    return run


class RuleParams:
    """The query parameters choosing a run and filtering its rules (the list and the CSV)."""

    def __init__(
        self,
        run_id: RunId = None,
        level: Level = "product",
        store_id: StoreId = None,
        min_support: Share = None,
        min_confidence: Share = None,
        min_lift: Threshold = None,
        item: ItemText = None,
        order: Order = "lift",
    ) -> None:
        """Keep the run's scope and the filter."""
        self.run_id, self.level, self.store_id = run_id, level, store_id
        self.where = queries.rule_filter(
            min_support=min_support,
            min_confidence=min_confidence,
            min_lift=min_lift,
            item=item,
            order=order,
        )

    def run(self, uow: UnitOfWork) -> BasketRun:
        """The run chosen, or 404."""
        return pick_run(uow, run_id=self.run_id, level=self.level, store_id=self.store_id)


RuleQuery = Annotated[RuleParams, Depends()]


@staff_router.get("/runs", response_model=list[RunRead])
def list_runs(
    uow: UowDep, _who: Reader, limit: Limit = 50, level: LevelName | None = None
) -> list[RunRead]:
    """Mining runs, newest first."""
    return [
        RunRead.model_validate(r) for r in queries.runs_list(uow.session, limit=limit, level=level)
    ]


@staff_router.get("/runs/active", response_model=RunRead)
def active_run(
    uow: UowDep, _who: Reader, level: Level = "product", store_id: StoreId = None
) -> RunRead:
    """The run in force for a level and store (the chain's when the store has none)."""
    return RunRead.model_validate(pick_run(uow, run_id=None, level=level, store_id=store_id))


@staff_router.get("/runs/{run_id}", response_model=RunRead)
def get_run(uow: UowDep, run_id: IdPath, _who: Reader) -> RunRead:
    """One run."""
    return RunRead.model_validate(queries.run_get(uow.session, run_id=run_id))


@staff_router.post("/runs", response_model=RunRead, status_code=201)
def start_run(request: Request, uow: UowDep, data: MineIn, who: Miner) -> RunRead:
    """Mine now on the local engine and wait for the result (Spark runs start from the CLI).

    The request's own transaction ends first: on SQLite it holds the write lock since the
    token check, and the miner's transaction would wait for it until it timed out.
    """
    uow.commit()
    run_id = miner_get()(request.app.state.session_factory, data=data, started_by=who.username)
    audit_record(
        uow,
        actor=who,
        action="baskets_mine",
        detail={"run_id": run_id, **data.model_dump(mode="json")},
    )
    read = RunRead.model_validate(queries.run_get(uow.session, run_id=run_id))
    uow.commit()
    return read


@staff_router.get("/rules", response_model=RulePage)
def list_rules(
    request: Request,
    uow: UowDep,
    _who: Reader,
    params: RuleQuery,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RulePage:
    """A run's rules, filtered (thresholds, an item's name) and ordered."""
    run = params.run(uow)
    total, items = queries.rules_page(
        uow.session,
        run=run,
        where=params.where,
        limit=limit,
        offset=offset,
        locale=get_locale(request),
    )
    return RulePage(run=RunRead.model_validate(run), total=total, items=items)


@staff_router.get(
    "/rules.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The rules as CSV"}},
)
def export_rules(request: Request, uow: UowDep, _who: Reader, params: RuleQuery) -> Response:
    """Every rule of a run that passes the filter, as CSV."""
    name, text = reports.rules_export(
        uow.session, run=params.run(uow), where=params.where, locale=get_locale(request)
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@staff_router.get("/companions", response_model=CompanionsRead)
def companions(
    request: Request,
    uow: UowDep,
    _who: Reader,
    item: Annotated[
        str, Query(min_length=1, max_length=100, description="product id, category or brand")
    ],
    run_id: RunId = None,
    level: Level = "product",
    store_id: StoreId = None,
    limit: Limit = 50,
) -> CompanionsRead:
    """An item's companions: rules with it in the antecedent, and rules leading to it."""
    run = pick_run(uow, run_id=run_id, level=level, store_id=store_id)
    locale = get_locale(request)
    with_it, to_it = queries.rules_companions(uow.session, run_id=run.id, item=item, limit=limit)
    ref = queries.item_refs(uow.session, level=run.level, keys=[item], locale=locale)[item]
    return CompanionsRead(
        run=RunRead.model_validate(run),
        item=ref,
        bought_with=queries.rule_reads(uow.session, level=run.level, rules=with_it, locale=locale),
        leads_here=queries.rule_reads(uow.session, level=run.level, rules=to_it, locale=locale),
    )


@staff_router.get("/network", response_model=NetworkRead)
def network(
    request: Request,
    uow: UowDep,
    _who: Reader,
    run_id: RunId = None,
    level: Level = "product",
    store_id: StoreId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 30,
) -> NetworkRead:
    """The strongest one-item rules (by lift), the arrows of the network chart."""
    run = pick_run(uow, run_id=run_id, level=level, store_id=store_id)
    edges = reports.strongest_pairs(uow.session, run=run, limit=limit)
    refs = queries.item_refs(
        uow.session,
        level=run.level,
        keys=[k for e in edges for k in (e.source, e.target)],
        locale=get_locale(request),
    )
    return NetworkRead(
        run=RunRead.model_validate(run),
        edges=[
            EdgeRead(
                source=refs[e.source], target=refs[e.target], confidence=e.confidence, lift=e.lift
            )
            for e in edges
        ],
    )


@staff_router.get("/shelf", response_model=ShelfReport)
def shelf(
    uow: UowDep,
    _who: Reader,
    store_id: StoreId = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    apart_only: bool = True,
    limit: Limit = 50,
) -> ShelfReport:
    """Category pairs bought together most above chance that sit apart (see the report's rules)."""
    run = queries.run_active(uow.session, level="category", store_id=store_id)
    pairs = (
        reports.shelf_pairs(
            uow.session, run=run, department=department, apart_only=apart_only, limit=limit
        )
        if run is not None
        else []
    )
    return ShelfReport(
        run=RunRead.model_validate(run) if run is not None else None,
        store_id=store_id,
        department=department,
        pairs=pairs,
    )


@staff_router.get("/promotion", response_model=PromotionReport)
def promotion(
    request: Request,
    uow: UowDep,
    _who: Reader,
    run_id: RunId = None,
    level: Level = "product",
    store_id: StoreId = None,
    limit: Limit = 50,
) -> PromotionReport:
    """Items ranked by how strongly they pull others into the basket, and what they pull."""
    run = queries.run_chosen(uow.session, run_id=run_id, level=level, store_id=store_id)
    items = (
        reports.promotion(uow.session, run=run, limit=limit, locale=get_locale(request))
        if run is not None
        else []
    )
    return PromotionReport(
        run=RunRead.model_validate(run) if run is not None else None, items=items
    )
