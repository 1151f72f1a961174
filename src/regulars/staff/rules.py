"""Roles and what they may do."""

from __future__ import annotations

from regulars.core.i18n import _

ROLES = ("admin", "marketing", "service_desk", "store_manager", "cashier", "analyst")

# Permission -> roles allowed. Admin may do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    "members.read": frozenset({"admin", "marketing", "service_desk", "store_manager", "cashier"}),
    "members.write": frozenset({"admin", "service_desk", "cashier", "marketing"}),
    "members.merge": frozenset({"admin", "service_desk"}),
    "members.see_mobile": frozenset({"admin", "service_desk"}),
    "members.export": frozenset({"admin", "service_desk"}),
    "members.erase": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "catalog.read": frozenset(ROLES),
    "catalog.write": frozenset({"admin", "marketing"}),
    "stores.manage": frozenset({"admin", "store_manager"}),
    "sales.read": frozenset({"admin", "marketing", "service_desk", "store_manager", "analyst"}),
    "imports.run": frozenset({"admin"}),
    "staff.manage": frozenset({"admin"}),
    "loyalty.adjust": frozenset({"admin", "service_desk"}),
    "loyalty.configure": frozenset({"admin", "marketing"}),
    "analytics.read": frozenset({"admin", "marketing", "analyst", "store_manager"}),
    "analytics.run": frozenset({"admin", "analyst"}),
    "baskets.read": frozenset({"admin", "marketing", "analyst", "store_manager"}),
    "baskets.mine": frozenset({"admin", "analyst", "marketing"}),
    "offers.read": frozenset({"admin", "marketing", "analyst", "store_manager", "service_desk"}),
    "offers.manage": frozenset({"admin", "marketing"}),
}

MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
TOKEN_HOURS = 12


def allowed(role: str, permission: str) -> bool:
    """Tell whether ``role`` holds ``permission``."""
    return role == "admin" or role in PERMISSIONS.get(permission, frozenset())


def store_scope(role: str, store_ids: list[int] | None) -> list[int] | None:
    """The stores whose receipts a role reads: a store manager's own, everyone else's all
    (``None``)."""
    return list(store_ids or []) if role == "store_manager" else None


ROLE_LABELS: dict[str, str] = {
    "admin": _("Administrator"),
    "marketing": _("Marketing"),
    "service_desk": _("Service desk"),
    "store_manager": _("Store manager"),
    "cashier": _("Cashier"),
    "analyst": _("Analyst"),
}


def role_label(role: str) -> str:
    """The catalogue id of a role's display name."""
    return ROLE_LABELS.get(role, role)


def needs_store(role: str) -> bool:
    """Tell whether ``role`` must keep at least one store: a store manager without one
    would see no receipts and manage no till."""
    return role == "store_manager"
