"""A small store world: a store, a till with its key, products, members, staff tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from regulars.catalog import service as catalog_service
from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.rules import barcode_check_digit
from regulars.catalog.schemas import ProductCreate, StoreCreate
from regulars.core.uow import UnitOfWork
from regulars.members import service as member_service
from regulars.members.models import Member
from regulars.members.schemas import MemberCreate
from regulars.staff import service as staff_service
from regulars.staff.models import StaffAccount


def ean13(n: int) -> str:
    """A valid EAN-13 built from a number (prefix 690, China)."""
    body = f"690{n:09d}"
    return body + barcode_check_digit(body)


@dataclass
class World:
    """What a test needs to talk to the till and staff APIs."""

    store: Store
    terminal: Terminal
    api_key: str
    products: list[Product]
    members: list[Member]
    tokens: dict[str, str] = field(default_factory=dict)

    def till(self) -> dict[str, str]:
        """Headers of the till."""
        return {"X-Api-Key": self.api_key}

    def staff(self, role: str = "admin") -> dict[str, str]:
        """Headers of a staff member with ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def build_world(
    uow: UnitOfWork, *, products: int = 5, members: int = 2, store_code: str = "S001"
) -> World:
    """Create a store with one till, products, members and one staff token per role."""
    store = catalog_service.store_create(
        uow, data=StoreCreate(code=store_code, name="Test store", city="上海")
    )
    terminal = catalog_service.terminal_create(uow, store_code=store_code, code="T01")
    key = catalog_service.terminal_issue_key(uow, store_code=store_code, terminal_code="T01")
    made = [
        catalog_service.product_create(
            uow,
            data=ProductCreate(
                sku=f"SKU{i:04d}",
                barcode=ean13(i),
                name_en=f"Product {i}",
                name_zh=f"商品{i}",
                department="GROCERY",
                category="SNACKS",
                unit_price=Decimal("2.50") + i,
                cost_price=Decimal("1.50") + i,
                tags=["fresh"] if i % 2 else [],
            ),
        )
        for i in range(1, products + 1)
    ]
    people = [
        member_service.member_register(
            uow,
            data=MemberCreate(mobile=f"1391234{i:04d}", name=f"Member {i}", card_no=f"C{i:07d}"),
        )
        for i in range(1, members + 1)
    ]
    tokens: dict[str, str] = {}
    for role in ("admin", "marketing", "service_desk", "store_manager", "cashier", "analyst"):
        # API tests only need tokens; an unusable hash skips argon2's deliberate cost.
        account = StaffAccount(
            username=f"t_{role}",
            display_name=role,
            role=role,
            password_hash="!",
            store_ids=[store.id],
        )
        uow.session.add(account)
        uow.flush()
        tokens[role], _row = staff_service.token_issue(uow, account=account)
    uow.commit()
    return World(
        store=store,
        terminal=terminal,
        api_key=key.api_key,
        products=made,
        members=people,
        tokens=tokens,
    )


def receipt_payload(
    world: World, receipt_no: str, *, member: bool = True, lines: int = 2
) -> dict[str, object]:
    """A valid receipt for the world's till."""
    items = []
    for product in world.products[:lines]:
        price = product.unit_price or Decimal("1")
        items.append(
            {
                "barcode": product.barcode,
                "quantity": "2",
                "unit_price": str(price),
                "discount": "0.50",
                "amount": str(price * 2 - Decimal("0.50")),
            }
        )
    total = sum(Decimal(str(i["amount"])) for i in items)
    payload: dict[str, object] = {
        "receipt_no": receipt_no,
        "occurred_at": "2026-11-20T10:15:00+08:00",
        "cashier": "c01",
        "lines": items,
        "payments": [{"method": "wechat_pay", "amount": str(total)}],
        "total": str(total),
    }
    if member:
        payload["member"] = {"card_no": world.members[0].card_no}
    return payload
