"""The points programme and the rewards catalogue on the command line:
``regulars points programme`` and ``regulars points coupons reward-add|reward-set``.

The same services as the programme page and ``/api/v1/loyalty/…``, audited the same way
(actor ``cli``): the programme, tiers and multipliers as the page records them, a reward as
the API does (create, or update with the fields given). Tiers and multipliers are replaced
from CSV files with a header, the columns of the page's text boxes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table

from regulars.core.csvtext import CsvText
from regulars.core.errors import DomainError, InvalidInput, NotFound
from regulars.core.i18n import _
from regulars.core.reasons import invalid_input
from regulars.core.schemas import Schema
from regulars.core.uow import UnitOfWork
from regulars.entrypoints import context
from regulars.entrypoints.cli_errors import fail
from regulars.entrypoints.cli_text import assignments, say
from regulars.loyalty import programme as loyalty_programme
from regulars.loyalty.schemas import (
    WEEKDAY_NAMES,
    MultiplierIn,
    ProgrammeUpdate,
    RewardCreate,
    RewardUpdate,
    TierIn,
)
from regulars.staff.audit import audit_record

console = Console()
Row = TypeVar("Row", bound=Schema)

# Each setting's label on the programme page, shown next to the name --set takes.
SETTINGS: dict[str, str] = {
    "name": _("Programme name"),
    "active": _("Active"),
    "points_per_unit": _("Points per ¥1 spent"),
    "min_spend": _("Minimum spend to earn"),
    "member_days": _("Member days: weekday and earning multiplier"),
    "first_purchase_bonus": _("First-purchase bonus (points)"),
    "birthday_bonus": _("Birthday-month bonus (points)"),
    "redeem_points_per_unit": _("Points worth ¥1 when redeemed"),
    "min_redemption": _("Minimum redemption (points)"),
    "expiry_policy": _("Expiry"),
    "expiry_months": _("Months until expiry"),
    "pending_days": _("Return window (days pending)"),
    "debt_policy": _("Returned points already spent"),
    "birthday_coupon_value": _("Birthday coupon: ¥ off (0: none)"),
    "birthday_coupon_min_spend": _("Birthday coupon: minimum spend (¥)"),
}
POLICIES: dict[str, str] = {
    "months": _("months after earning"),
    "year_end": _("at the end of the year"),
    "claw_back": _("claw back what is left, record the rest as debt"),
    "debt": _("record a debt paid from future points"),
}
TIER_COLUMNS = ("code", "name", "threshold", "multiplier")
MULTIPLIER_COLUMNS = ("target", "value", "multiplier")


def _number(value: Decimal) -> str:
    """A decimal without trailing zeros or an exponent: ``1.5``, ``2000``."""
    return f"{value.normalize():f}"


def _shown(name: str, value: Any) -> str:
    """A setting's value as ``--set`` takes it, with the page's words for a policy."""
    if isinstance(value, bool):
        return say(_("yes")) if value else say(_("no"))
    if isinstance(value, Decimal):
        return _number(value)
    if name == "member_days":
        days = sorted((int(day), factor) for day, factor in (value or {}).items())
        return ",".join(f"{WEEKDAY_NAMES[day]}:{factor}" for day, factor in days) or "-"
    if name in ("expiry_policy", "debt_policy"):
        return f"{value} ({say(POLICIES.get(value, value))})"
    return str(value)


def _programme_tables(uow: UnitOfWork) -> list[Table]:
    """The settings, the tiers and the earning multipliers, as three tables."""
    current = loyalty_programme.programme_get(uow)
    config = loyalty_programme.programme_config(uow.session, current)
    settings = Table(Column(say(_("Setting")), no_wrap=True), say(_("Value")), say(_("Meaning")))
    for name, meaning in SETTINGS.items():
        settings.add_row(name, _shown(name, getattr(current, name)), say(meaning))
    tiers = Table(
        say(_("Code")),
        say(_("Name")),
        say(_("12-month spend")),
        say(_("Multiplier")),
        title=say(_("Tiers")),
    )
    for tier in config.tiers:
        tiers.add_row(tier.code, tier.name, _number(tier.threshold), _number(tier.multiplier))
    rules = Table(
        say(_("Target")), say(_("Value")), say(_("Multiplier")), title=say(_("Earning multipliers"))
    )
    for rule in config.rules:
        rules.add_row(rule.target, rule.value, _number(rule.multiplier))
    return [settings, tiers, rules]


def _member_days(value: str) -> dict[str, str]:
    """``wed:2,sat:1.5`` (or ``2:2``) as weekday → multiplier; empty: no member days."""
    days: dict[str, str] = {}
    for item in value.replace("，", ",").split(","):
        if not item.strip():
            continue
        day, sep, factor = item.partition(":")
        if not sep:
            fail(
                InvalidInput(
                    _("member days are DAY:MULTIPLIER pairs, e.g. wed:2,sat:1.5"),
                    field="member_days",
                ),
                code=2,
            )
        days[day.strip()] = factor.strip()
    return days


def _programme_changes(pairs: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as the fields of a :class:`ProgrammeUpdate`.

    Values go to the schema as typed, so a bad one is refused naming its field; unknown
    fields and pairs without ``=`` are refused here, naming them.
    """
    changes: dict[str, Any] = {}
    for name, value in assignments(pairs, ProgrammeUpdate.model_fields):
        changes[name] = _member_days(value) if name == "member_days" else value
    return changes


def _file_rows(path: Path, option: str, model: type[Row], columns: tuple[str, ...]) -> list[Row]:
    """The rows of a CSV file with a header naming ``columns``, each checked by ``model``.

    The first bad line stops the command, naming the line and the column: a replacement
    applies all its rows or none.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(InvalidInput(_("the file is not UTF-8 text"), field=option), code=2)
    reader = CsvText(text)
    if not set(columns) <= set(reader.columns):
        fail(
            InvalidInput(
                _("the file lacks the columns {columns}"),
                field=option,
                columns=", ".join(c for c in columns if c not in reader.columns),
            ),
            code=2,
        )
    rows: list[Row] = []
    for record in reader:
        try:
            if record.error is not None:
                raise InvalidInput(_("the line is not valid CSV: {reason}"), reason=record.error)
            rows.append(model.model_validate({c: record.fields.get(c) for c in columns}))
        except (DomainError, ValidationError) as exc:
            error = invalid_input(exc) if isinstance(exc, ValidationError) else exc
            fail(
                InvalidInput(
                    _("line {line}: {reason}"),
                    field=error.field or option,
                    line=record.line,
                    reason=say(error.message, **error.params),
                ),
                code=2,
            )
    return rows


def points_programme(
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="FIELD=VALUE, repeatable; e.g. points_per_unit=2, pending_days=0,"
            " member_days=wed:2,sat:1.5 (member_days= for none), active=false",
        ),
    ] = None,
    tiers: Annotated[
        Path | None,
        typer.Option(
            help="CSV file with columns code,name,threshold,multiplier that replaces the tiers",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    multipliers: Annotated[
        Path | None,
        typer.Option(
            help="CSV file with columns target,value,multiplier that replaces the earning"
            " multipliers (target: product, category, brand or tag)",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Show or change the points programme: earning, bonuses, expiry, tiers, multipliers.

    --set changes settings (member days among them); --tiers and --multipliers replace
    those from CSV files. Each change is audited as the programme page audits it.
    """
    try:
        data = ProgrammeUpdate.model_validate(_programme_changes(assignments or []))
    except ValidationError as exc:
        fail(exc, code=2)
    new_tiers = _file_rows(tiers, "tiers", TierIn, TIER_COLUMNS) if tiers else None
    new_rules = (
        _file_rows(multipliers, "multipliers", MultiplierIn, MULTIPLIER_COLUMNS)
        if multipliers
        else None
    )
    with context.new_uow() as uow:
        try:
            if data.model_fields_set:
                loyalty_programme.programme_update(uow, data=data)
                audit_record(
                    uow,
                    actor="cli",
                    action="loyalty_programme",
                    page="cli",
                    detail={"fields": sorted(data.model_fields_set)},
                )
            if new_tiers is not None:
                loyalty_programme.tiers_replace(uow, tiers=new_tiers)
                audit_record(
                    uow,
                    actor="cli",
                    action="loyalty_tiers",
                    page="cli",
                    detail={"tiers": [t.code for t in new_tiers]},
                )
            if new_rules is not None:
                loyalty_programme.multipliers_replace(uow, rules=new_rules)
                audit_record(
                    uow,
                    actor="cli",
                    action="loyalty_multipliers",
                    page="cli",
                    detail={"count": len(new_rules)},
                )
        except DomainError as exc:
            fail(exc)
        tables = _programme_tables(uow)
        uow.commit()  # the default programme is created on first use
    for table in tables:
        console.print(table)
    if data.model_fields_set or new_tiers is not None or new_rules is not None:
        console.print(say(_("The programme is saved.")))


def rewards_add(
    code: Annotated[str, typer.Option(help="the reward's code (letters, digits, _ and -)")],
    name: Annotated[str, typer.Option(help="what members see, e.g. 满50减10")],
    kind: Annotated[str, typer.Option(help="amount, percent or gift")],
    points: Annotated[int, typer.Option(help="what it costs in points")],
    value: Annotated[str, typer.Option(help="¥ off, or % off for percent")] = "0",
    min_spend: Annotated[str, typer.Option(help="minimum spend in ¥")] = "0",
    max_discount: Annotated[str | None, typer.Option(help="largest ¥ off (percent)")] = None,
    days: Annotated[int, typer.Option(help="the coupon is valid this many days")] = 30,
    stock: Annotated[
        int | None, typer.Option(help="how many can be exchanged; unlimited if left out")
    ] = None,
) -> None:
    """Add a reward to the catalogue: a coupon (amount or percent off) or a gift for points."""
    with context.new_uow() as uow:
        try:
            data = RewardCreate.model_validate(
                {
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "points": points,
                    "value": value,
                    "min_spend": min_spend,
                    "max_discount": max_discount,
                    "valid_days": days,
                    "stock": stock,
                }
            )
            reward = loyalty_programme.reward_create(uow, data=data)
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="loyalty_reward_create",
            page="cli",
            detail=data.model_dump(mode="json"),
        )
        reward_id = reward.id
        uow.commit()
    console.print(say(_("reward {code} added (id {id})"), code=data.code, id=reward_id))


def rewards_set(
    code: Annotated[str, typer.Argument(help="the reward's code")],
    name: Annotated[str | None, typer.Option(help="what members see")] = None,
    kind: Annotated[str | None, typer.Option(help="amount, percent or gift")] = None,
    points: Annotated[int | None, typer.Option(help="what it costs in points")] = None,
    value: Annotated[str | None, typer.Option(help="¥ off, or % off for percent")] = None,
    min_spend: Annotated[str | None, typer.Option(help="minimum spend in ¥")] = None,
    max_discount: Annotated[
        str | None, typer.Option(help='largest ¥ off (percent); "" for no limit')
    ] = None,
    days: Annotated[int | None, typer.Option(help="the coupon is valid this many days")] = None,
    stock: Annotated[
        str | None, typer.Option(help='how many can still be exchanged; "" for unlimited')
    ] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="offer it, or retire it")
    ] = None,
) -> None:
    """Change a reward of the catalogue by its code; only the options given change.

    Coupons already issued keep their terms; --inactive retires the reward.
    """
    given = {
        "name": name,
        "kind": kind,
        "points": points,
        "value": value,
        "min_spend": min_spend,
        "max_discount": max_discount,
        "valid_days": days,
        "stock": stock,
        "active": active,
    }
    # An empty --max-discount or --stock is given, and clears the limit.
    changes = {k: (None if v == "" else v) for k, v in given.items() if v is not None}
    if not changes:
        fail(InvalidInput(_("nothing to change: give at least one option")), code=2)
    with context.new_uow() as uow:
        try:
            data = RewardUpdate.model_validate(changes)
            found = loyalty_programme.reward_by_code(uow, code=code)
            if found is None:
                raise NotFound(_("reward {id} not found"), field="code", id=code)
            reward = loyalty_programme.reward_update(uow, reward_id=found.id, data=data)
        except (DomainError, ValidationError) as exc:
            fail(exc)
        audit_record(
            uow,
            actor="cli",
            action="loyalty_reward_update",
            page="cli",
            detail={"reward_id": reward.id, **data.model_dump(mode="json", exclude_unset=True)},
        )
        uow.commit()
    console.print(
        say(
            _("reward {code} changed: {fields}"),
            code=code,
            fields=", ".join(sorted(data.model_fields_set)),
        )
    )


def attach_loyalty_commands(points: typer.Typer, coupons: typer.Typer) -> None:
    """Add ``programme`` to ``points``, and ``reward-add`` and ``reward-set`` to ``coupons``."""
    points.command("programme")(points_programme)
    coupons.command("reward-add")(rewards_add)
    coupons.command("reward-set")(rewards_set)
