"""Writes of the offers domain: deals (one by one or from a CSV file) and the cycle's settings.

The personal lists are written by :mod:`regulars.offers.lists`, the till's redemptions by
:mod:`regulars.offers.redeem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from regulars.catalog.queries import manufacturer_by_code
from regulars.core.csvtext import CsvText
from regulars.core.errors import Conflict, DomainError, InvalidInput, NotFound
from regulars.core.i18n import _, reader_locale
from regulars.core.reasons import validation_reason
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.offers import rules
from regulars.offers.models import Deal, ListSettings
from regulars.offers.schemas import DealBase, DealCreate, DealUpdate, ListSettingsUpdate

DEAL_COLUMNS = (
    "code",
    "title",
    "manufacturer_code",
    "target",
    "target_value",
    "kind",
    "value",
    "buy_qty",
    "get_qty",
    "valid_from",
    "valid_to",
    "manufacturer_share",
    "store_share",
    "budget",
    "limit_per_member",
)


def _apply(uow: UnitOfWork, deal: Deal, data: DealBase, *, active: bool | None) -> Deal:
    """Copy validated terms onto a deal row, resolving the manufacturer.

    ``active`` is ``None`` when the caller did not say: the deal keeps its state (a
    retired deal stays retired), so switching a deal on or off is always on purpose.
    """
    rules.terms_check(rules.Terms(data.kind, data.value, data.buy_qty, data.get_qty))
    manufacturer_id = None
    if data.manufacturer_code:
        maker = manufacturer_by_code(uow.session, code=data.manufacturer_code)
        if maker is None:
            raise InvalidInput(
                _("manufacturer {code} not found"),
                field="manufacturer_code",
                code=data.manufacturer_code,
            )
        manufacturer_id = maker.id
    if data.manufacturer_share > 0 and manufacturer_id is None:
        raise InvalidInput(
            _("a deal funded by a manufacturer must name the manufacturer"),
            field="manufacturer_code",
        )
    values = data.model_dump(exclude={"manufacturer_code", "active"})
    if data.kind != "bxgy":
        values.update(buy_qty=None, get_qty=None)
    for key, value in values.items():
        setattr(deal, key, value)
    deal.manufacturer_id = manufacturer_id
    if active is not None:
        deal.active = active
    deal.updated_at = utcnow()
    return deal


def deal_create(uow: UnitOfWork, *, data: DealCreate, source: str = "staff") -> Deal:
    """Create a deal; its code must be new."""
    if uow.session.scalars(select(Deal.id).where(Deal.code == data.code)).first() is not None:
        raise Conflict(_("deal {code} already exists"), field="code", code=data.code)
    deal = _apply(uow, Deal(code=data.code, source=source, spent=0), data, active=data.active)
    uow.session.add(deal)
    uow.flush()
    return deal


def deal_get(uow: UnitOfWork, *, deal_id: int) -> Deal:
    """A deal by id, or ``NotFound``."""
    deal = uow.session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(_("deal {id} not found"), field="deal_id", id=deal_id)
    return deal


def deal_update(uow: UnitOfWork, *, deal_id: int, data: DealUpdate) -> Deal:
    """Change a deal's terms; the budget may not fall below what is already spent.

    ``data.active`` left out keeps the deal on or off as it is.
    """
    deal = deal_get(uow, deal_id=deal_id)
    if data.budget is not None and data.budget < deal.spent:
        raise InvalidInput(
            _("the budget cannot be below the {spent} already spent"),
            field="budget",
            spent=deal.spent,
        )
    _apply(uow, deal, data, active=data.active)
    uow.flush()
    return deal


def deal_retire(uow: UnitOfWork, *, deal_id: int) -> Deal:
    """Switch a deal off (kept: list items and redemptions name it)."""
    deal = deal_get(uow, deal_id=deal_id)
    deal.active = False
    deal.updated_at = utcnow()
    uow.flush()
    return deal


@dataclass
class ImportReport:
    """What a deal import did: rows loaded and each bad row with its line and reason."""

    loaded: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _row_data(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as schema input: empty cells are left out."""
    return {k: v.strip() for k, v in row.items() if k in DEAL_COLUMNS and v and v.strip()}


def _pydantic_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = validation_reason(first, reader_locale())
    return f"{where}: {message}" if where else message


def deals_import(uow: UnitOfWork, *, text: str, source: str = "import") -> ImportReport:
    """Load deals from CSV text (header row: :data:`DEAL_COLUMNS`); re-running is safe.

    A row whose code exists updates that deal. Every good row loads; each bad row is
    reported with its line number (the header is line 1) and the reason, and changes nothing.
    """
    report = ImportReport()
    reader = CsvText(text)
    missing = [
        c for c in ("code", "title", "target", "target_value", "kind") if c not in reader.columns
    ]
    if missing:
        raise InvalidInput(
            _("the file lacks the columns {columns}"), field="file", columns=", ".join(missing)
        )
    for record in reader:
        line, row = record.line, record.fields
        if record.error is not None:
            reason = _("the line is not valid CSV: {reason}").format(reason=record.error)
            report.errors.append((line, reason))
            continue
        try:
            data = DealCreate.model_validate(_row_data(row))
        except ValidationError as exc:
            report.errors.append((line, _pydantic_reason(exc)))
            continue
        existing = uow.session.scalars(select(Deal).where(Deal.code == data.code)).first()
        try:
            with uow.session.begin_nested():
                if existing is None:
                    deal_create(uow, data=data, source=source)
                    report.loaded += 1
                else:
                    # The file has no "active" column: a re-run keeps a retired deal retired.
                    _apply(uow, existing, data, active=None)
                    uow.flush()
                    report.updated += 1
        except DomainError as exc:
            report.errors.append((line, exc.message.format(**exc.params)))
    return report


def settings_get(uow: UnitOfWork) -> ListSettings:
    """The cycle's settings, created with the defaults on first use."""
    found = uow.session.scalars(select(ListSettings).where(ListSettings.code == "default")).first()
    if found is None:
        found = ListSettings(
            code="default",
            window_weeks=8,
            threshold=rules.DEFAULT_THRESHOLD,
            cycle_days=14,
            list_length=10,
            max_per_category=3,
            control_share=0.1,
            base_budget=rules.DEFAULT_BASE_BUDGET,
            tier_factors=dict(rules.DEFAULT_TIER_FACTORS),
            store_discount=rules.DEFAULT_STORE_DISCOUNT,
            notify=True,
        )
        uow.session.add(found)
        uow.flush()
    return found


def settings_update(uow: UnitOfWork, *, data: ListSettingsUpdate) -> ListSettings:
    """Change the cycle's settings (fields left out keep their value)."""
    found = settings_get(uow)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(found, key, value)
    found.updated_at = utcnow()
    uow.flush()
    return found
