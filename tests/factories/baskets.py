"""The beer-and-diapers shop: the source documents' five baskets, recorded as receipts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count

from regulars.catalog import service as catalog_service
from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.schemas import ProductCreate, StoreCreate
from regulars.core.uow import UnitOfWork
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.world import World, build_world, ean13

# key: (English name, Chinese name, department, category, brand)
GOODS = {
    "beer": ("Beer", "啤酒", "Drinks", "Beer", "Tsingtao"),
    "diapers": ("Diapers", "纸尿裤", "Baby", "Diapers", "Pampers"),
    "baby powder": ("Baby powder", "爽身粉", "Baby", "Baby care", "Johnson"),
    "bread": ("Bread", "面包", "Bakery", "Bread", "Mankattan"),
    "umbrella": ("Umbrella", "雨伞", "Household", "Umbrellas", "Paradise"),
    "milk": ("Milk", "牛奶", "Dairy", "Milk", "Bright"),
    "detergent": ("Detergent", "洗衣液", "Household", "Detergent", "Blue Moon"),
    "cola": ("Cola", "可乐", "Drinks", "Soft drinks", "Tsingtao"),
}
LESSON = [
    ["beer", "diapers", "baby powder", "bread", "umbrella"],
    ["diapers", "baby powder"],
    ["beer", "diapers", "milk"],
    ["beer", "diapers", "detergent"],
    ["beer", "milk", "cola"],
]
WHEN = datetime(2026, 11, 20, 2, 15, tzinfo=UTC)  # 10:15 in Shanghai, on 2026-11-20
_numbers = count(1)


@dataclass
class Shop:
    """A world with the lesson's products, keyed by name."""

    world: World
    goods: dict[str, Product]

    @property
    def store(self) -> Store:
        """The world's store."""
        return self.world.store

    def ids(self, *names: str) -> list[int]:
        """Product ids of named goods."""
        return [self.goods[n].id for n in names]

    def key(self, name: str) -> str:
        """A product's item key at the product level."""
        return str(self.goods[name].id)


def build_shop(uow: UnitOfWork, *, members: int = 0) -> Shop:
    """A store with one till, the eight lesson products and staff tokens (no receipts)."""
    world = build_world(uow, products=0, members=members)
    goods: dict[str, Product] = {}
    for n, (key, (name_en, name_zh, department, category, brand)) in enumerate(
        GOODS.items(), start=500
    ):
        goods[key] = catalog_service.product_create(
            uow,
            data=ProductCreate(
                sku=f"L{n}",
                barcode=ean13(n),
                name_en=name_en,
                name_zh=name_zh,
                department=department,
                category=category,
                brand=brand,
                unit_price=Decimal("5.00"),
            ),
        )
    uow.commit()
    return Shop(world=world, goods=goods)


def other_store(uow: UnitOfWork, code: str = "S002") -> tuple[Store, Terminal]:
    """A second store with a till."""
    store = catalog_service.store_create(uow, data=StoreCreate(code=code, name=f"Store {code}"))
    terminal = catalog_service.terminal_create(uow, store_code=code, code="T01")
    return store, terminal


def record(
    uow: UnitOfWork,
    shop: Shop,
    baskets: list[list[str]],
    *,
    at: datetime = WHEN,
    store: Store | None = None,
    terminal: Terminal | None = None,
    kind: str = "sale",
) -> list[Receipt]:
    """Record each basket as a receipt (one line per product; returns are negative)."""
    sign = Decimal(-1 if kind == "return" else 1)
    made: list[Receipt] = []
    for basket in baskets:
        number = next(_numbers)
        receipt = Receipt(
            store_id=(store or shop.store).id,
            terminal_id=(terminal or shop.world.terminal).id,
            receipt_no=f"B{number:06d}",
            kind=kind,
            occurred_at=at,
            total=Decimal("5.00") * len(basket) * sign,
            discount_total=Decimal("0"),
            line_count=len(basket),
            payments=[],
            content_hash=f"{number:064d}",
            response={},
            source="import",
        )
        uow.session.add(receipt)
        uow.flush()
        for line_no, name in enumerate(basket, start=1):
            uow.session.add(
                ReceiptLine(
                    receipt_id=receipt.id,
                    line_no=line_no,
                    product_id=shop.goods[name].id,
                    quantity=Decimal("1") * sign,
                    unit_price=Decimal("5.00"),
                    discount=Decimal("0"),
                    amount=Decimal("5.00") * sign,
                )
            )
        made.append(receipt)
    uow.flush()
    return made
