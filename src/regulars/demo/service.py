"""Load the demo store from Complete Journey: members, catalogue, stores and receipts.

The CJ files are turned into Regulars' import formats (``convert``) and loaded by the
same importers as any file, so the demo exercises the real import path, with one
``ImportRun`` (and error report) per kind. Like every service it never commits; the
``checkpoint`` the entrypoint passes commits batch by batch. Loading twice changes
nothing (everything is *unchanged* the second time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import exists, func, insert, or_, select

from regulars.catalog.models import Product, Store, Terminal
from regulars.core.db import planner_stats
from regulars.core.errors import InvalidInput
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.demo import convert, rules
from regulars.demo.deals import demo_deals_load
from regulars.imports.formats import LINE, Kind, check_columns
from regulars.imports.outcome import Checkpoint, Outcome, Progress
from regulars.imports.service import import_frame, run_finish, run_start
from regulars.loyalty.models import PointsLine
from regulars.loyalty.service import points_grant_many
from regulars.members.models import ConsentEvent, Member
from regulars.members.rules import normalise_mobile
from regulars.sales.models import Receipt

FILES = (
    "transactions_sample.csv",
    "products.csv",
    "demographics.csv",
    "campaigns.csv",
    "coupon_redemptions.csv",
)


@dataclass
class DemoStep:
    """One kind loaded by the demo: its run id, counts and report."""

    kind: str
    run_id: int
    total: int
    loaded: int
    unchanged: int
    bad: int
    report: str | None


@dataclass
class DemoSummary:
    """What the demo load did."""

    households: int = 0
    products: int = 0
    stores: int = 0
    lines: int = 0
    baskets: int = 0
    consents: int = 0
    deals: int = 0
    opening_points: int = 0
    seconds: float = 0.0
    steps: list[DemoStep] = field(default_factory=list)


def demo_exists(uow: UnitOfWork) -> bool:
    """Tell whether demo data is already loaded."""
    query = select(
        or_(exists().where(Member.is_demo.is_(True)), exists().where(Product.is_demo.is_(True)))
    )
    return bool(uow.session.scalar(query))


def read_cj(path: Path, limit: int | None = None) -> pl.DataFrame:
    """A CJ file as text with its line numbers (header is line 1)."""
    if not path.exists():
        raise InvalidInput(_("{name} not found"), field="data_dir", name=str(path))
    frame = pl.read_csv(path, infer_schema=False, n_rows=limit)
    return frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def _stores(uow: UnitOfWork, store_ids: list[str]) -> None:
    """Create the demo stores (code CJ<store_id>) with their one till T01."""
    codes = {f"{rules.STORE_PREFIX}{s}": s for s in store_ids}
    have = set(uow.session.scalars(select(Store.code).where(Store.code.in_(list(codes)))))
    new = [
        {"code": c, "name": f"Complete Journey store {s}", "city": None, "is_demo": True}
        for c, s in sorted(codes.items())
        if c not in have
    ]
    if new:
        made = uow.session.execute(
            insert(Store).returning(Store.id, sort_by_parameter_order=True), new
        )
        now = utcnow()
        uow.session.execute(
            insert(Terminal),
            [{"store_id": i, "code": rules.TERMINAL, "created_at": now} for i in made.scalars()],
        )


def _consents(uow: UnitOfWork) -> int:
    """Record each demo household's sign-up consents once (see ``rules.demo_consents``)."""
    done = select(ConsentEvent.member_id).where(ConsentEvent.source == "demo")
    members = uow.session.execute(
        select(Member.id, Member.external_ref).where(
            Member.is_demo.is_(True), Member.external_ref.is_not(None), Member.id.not_in(done)
        )
    ).all()
    now = utcnow()
    rows = [
        {
            "member_id": member_id,
            "purpose": purpose,
            "channel": channel,
            "granted": granted,
            "at": now,
            "source": "demo",
        }
        for member_id, ref in members
        if ref and ref.removeprefix(rules.MEMBER_REF_PREFIX).isdigit()
        for (purpose, channel), granted in rules.demo_consents(
            int(ref.removeprefix(rules.MEMBER_REF_PREFIX))
        ).items()
    ]
    if rows:
        uow.session.execute(insert(ConsentEvent), rows)
    return len(rows)


def _step(
    uow: UnitOfWork,
    kind: Kind,
    frame: pl.DataFrame,
    filename: str,
    outcome: Outcome,
    checkpoint: Checkpoint | None,
    progress: Progress | None,
) -> DemoStep:
    """Load one kind through the importer, recorded as an import run by ``demo``."""
    run = run_start(uow, kind=kind, filename=filename, sha256="", actor="demo")
    checked = check_columns(frame, kind=kind, filename=filename)
    import_frame(
        uow,
        kind=kind,
        frame=checked,
        outcome=outcome,
        source="demo",
        is_demo=True,
        checkpoint=checkpoint,
        progress=progress,
    )
    run = run_finish(uow, run=run, outcome=outcome)
    return DemoStep(
        kind, run.id, outcome.total, outcome.loaded, outcome.unchanged, outcome.bad, run.report_path
    )


def demo_load(
    uow: UnitOfWork,
    *,
    data_dir: Path,
    limit_lines: int | None = None,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Build the demo store from the CJ CSV files in ``data_dir`` (see ``demo.rules``).

    ``limit_lines`` loads only the first N transaction lines, and then only the
    households and products they name (for tests).
    """
    started = time.perf_counter()
    tx = read_cj(data_dir / "transactions_sample.csv", limit_lines)
    products = read_cj(data_dir / "products.csv")
    demographics = read_cj(data_dir / "demographics.csv")
    lines = Outcome()
    priced = convert.transactions_priced(tx, lines)
    lines.total = tx.height - priced.height  # the receipts loader counts the rest
    households = set(tx["household_id"].drop_nulls().to_list())
    if limit_lines is None:
        households |= set(demographics["household_id"].to_list())
        for extra in ("campaigns.csv", "coupon_redemptions.csv"):
            households |= set(read_cj(data_dir / extra)["household_id"].to_list())
    else:
        products = products.filter(
            convert.plain_ids(products["product_id"]).is_in(priced["product_id"].implode())
        )
    ids = sorted(int(h) for h in households if h.isdigit())
    for household in ids[:1] + ids[-1:]:
        normalise_mobile(rules.mobile_for(household))  # the rule must give valid numbers
    catalogue = convert.products_frame(products, priced)
    summary = DemoSummary(households=len(ids), products=catalogue.height, lines=tx.height)
    summary.steps.append(
        _step(
            uow,
            "members",
            convert.members_frame(ids, demographics),
            "demographics.csv",
            Outcome(),
            checkpoint,
            progress,
        )
    )
    summary.steps.append(
        _step(
            uow,
            "products",
            catalogue,
            "products.csv",
            Outcome(),
            checkpoint,
            progress,
        )
    )
    summary.consents = _consents(uow)
    # Manufacturers' deals from CJ's coupons and campaigns (see ``demo.deals``).
    summary.deals = demo_deals_load(uow, directory=data_dir).loaded
    store_ids = priced["store_id"].unique().sort().to_list()
    _stores(uow, store_ids)
    summary.stores = len(store_ids)
    summary.baskets = priced["basket_id"].n_unique()
    summary.steps.append(
        _step(
            uow,
            "receipts",
            convert.receipts_frame(priced),
            "transactions_sample.csv",
            lines,
            checkpoint,
            progress,
        )
    )
    summary.opening_points = _opening_points(uow)
    planner_stats(uow.session)
    summary.seconds = time.perf_counter() - started
    return summary


#: The reason on the demo's opening balances (translated where the ledger is shown).
OPENING_REASON = _("opening balance carried over from the previous system (demo)")


def _opening_points(uow: UnitOfWork) -> int:
    """Give every demo member who bought something an opening balance: 1 point per ¥.

    The sample's receipts are loaded as history, not through the till, so they earned
    nothing; a chain that moves to Regulars carries its members' balances over the same
    way (``regulars points grant --reason …``). A member who already has an opening
    balance is skipped, so loading the demo again grants nothing. Returns the members
    granted.
    """
    done = set(
        uow.session.scalars(select(PointsLine.member_id).where(PointsLine.reason == OPENING_REASON))
    )
    spent = (
        select(Receipt.member_id, func.sum(Receipt.total))
        .where(Receipt.member_id.is_not(None), Receipt.kind == "sale")
        .group_by(Receipt.member_id)
    )
    grants = [
        (int(member), int(total))
        for member, total in uow.session.execute(spent)
        if member is not None and member not in done and total and total >= 1
    ]
    points_grant_many(uow, grants=grants, reason=OPENING_REASON, actor="demo")
    return len(grants)
