"""Reads of the catalogue."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ScalarSelect,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from regulars.catalog.models import Manufacturer, Product, Store, Terminal
from regulars.core.db import contains_pattern
from regulars.core.errors import NotFound, Unauthorized
from regulars.core.i18n import _
from regulars.core.schemas import MAX_ID


def product_get(session: Session, *, product_id: int) -> Product:
    """Return a product by id or raise ``NotFound``."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(_("product {id} not found"), field="product_id", id=product_id)
    return product


def product_search(
    session: Session,
    *,
    text: str | None = None,
    department: str | None = None,
    tag: str | None = None,
    needs_review: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Product]:
    """Find products by barcode, SKU or name, optionally within a department or tag, or
    only those to review (``needs_review=True``)."""
    query = select(Product)
    if needs_review is not None:
        query = query.where(Product.needs_review.is_(needs_review))
    if text:
        pattern = contains_pattern(text.strip().lower())
        query = query.where(
            or_(
                Product.barcode == text.strip(),
                Product.sku == text.strip(),
                func.lower(Product.name_en).like(pattern, escape="\\"),
                func.lower(Product.name_zh).like(pattern, escape="\\"),
                func.lower(Product.brand).like(pattern, escape="\\"),
            )
        )
    if department:
        query = query.where(Product.department == department)
    products = list(
        session.scalars(
            query.order_by(Product.id).limit(limit * 4 if tag else limit).offset(offset)
        )
    )
    if tag:
        # Tags are a JSON list; filtering in Python keeps one query for SQLite and PostgreSQL.
        products = [p for p in products if tag in (p.tags or [])][:limit]
    return products


def product_review_count(session: Session) -> int:
    """How many products a till created that staff have still to complete (one COUNT)."""
    query = select(func.count()).select_from(Product).where(Product.needs_review.is_(True))
    return int(session.scalar(query) or 0)


def product_lookup(session: Session, *, key: str) -> Product:
    """The product whose barcode, SKU or id (tried in this order) is ``key``.

    A barcode is tried first because it is what a till or a scanner gives; an id only
    when nothing has that barcode or SKU (a SKU may be all digits too).
    """
    key = key.strip()
    for column in (Product.barcode, Product.sku):
        found = session.scalars(select(Product).where(column == key)).first()
        if found is not None:
            return found
    if key.isdigit() and 1 <= int(key) <= MAX_ID:
        return product_get(session, product_id=int(key))
    raise NotFound(_("product {id} not found"), field="product", id=key)


_KEYS: BindParameter[str] = bindparam("keys", expanding=True)
_BY_BARCODE = select(Product.barcode, Product.id).where(Product.barcode.in_(_KEYS))
_BY_SKU = select(Product.sku, Product.id).where(Product.sku.in_(_KEYS))
# PostgreSQL takes the keys as one array: the statement's text is then the same for any
# number of keys, so psycopg prepares it once (an expanding IN is new text per count).
_BY_BARCODE_PG = select(Product.barcode, Product.id).where(
    Product.barcode == func.any(bindparam("keys", type_=postgresql.ARRAY(String())))
)
_BY_SKU_PG = select(Product.sku, Product.id).where(
    Product.sku == func.any(bindparam("keys", type_=postgresql.ARRAY(String())))
)


def barcodes_column(dialect: str) -> ScalarSelect[Any]:
    """A column mapping the barcodes bound as ``keys`` to product ids (a JSON object), for
    another layer's read to carry: a member's receipt then finds its products in the
    member's read, with no statement of its own (:func:`barcode_ids` reads the value)."""
    if dialect == "postgresql":
        return (
            select(func.json_object_agg(Product.barcode, Product.id))
            .where(Product.barcode == func.any(bindparam("keys", type_=postgresql.ARRAY(String()))))
            .scalar_subquery()
        )
    # SQLite: the keys as one JSON array (``json_each``), so the statement's text does not
    # change with the number of barcodes (an expanding IN would be a new statement for
    # SQLite to prepare at every basket size); JSON1 returns the object as text.
    keys: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam("keys", type_=JSON()))
    )
    return (
        select(func.json_group_object(Product.barcode, Product.id))
        .where(Product.barcode.in_(keys))
        .scalar_subquery()
    )


def barcode_ids(value: object) -> dict[str, int]:
    """The barcode → product id map read by :func:`barcodes_column` (``NULL``: none)."""
    if value is None:
        return {}
    found = json.loads(value) if isinstance(value, str) else value
    assert isinstance(found, dict)
    return {str(barcode): int(product_id) for barcode, product_id in found.items()}


def products_by_keys(
    session: Session, *, barcodes: Iterable[str] = (), skus: Iterable[str] = ()
) -> tuple[dict[str, int], dict[str, int]]:
    """Map barcodes and SKUs to product ids in two queries (the till's hot path: Core
    statements built once, on the session's connection, so pending ORM objects are not
    flushed first)."""
    barcode_list, sku_list = sorted(set(barcodes)), sorted(set(skus))
    by_barcode: dict[str, int] = {}
    by_sku: dict[str, int] = {}
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    if barcode_list:
        rows = conn.execute(_BY_BARCODE_PG if pg else _BY_BARCODE, {"keys": barcode_list})
        by_barcode = {str(b): int(i) for b, i in rows}
    if sku_list:
        rows = conn.execute(_BY_SKU_PG if pg else _BY_SKU, {"keys": sku_list})
        by_sku = {str(s): int(i) for s, i in rows}
    return by_barcode, by_sku


def store_by_code(session: Session, *, code: str) -> Store:
    """Return a store by its code or raise ``NotFound``."""
    store = session.scalars(select(Store).where(Store.code == code)).first()
    if store is None:
        raise NotFound(_("store {code} not found"), field="store", code=code)
    return store


def store_list(session: Session) -> list[Store]:
    """All stores by code."""
    return list(session.scalars(select(Store).order_by(Store.code)))


def terminals_of(session: Session, *, store_id: int) -> list[Terminal]:
    """The tills of a store."""
    return list(
        session.scalars(
            select(Terminal).where(Terminal.store_id == store_id).order_by(Terminal.code)
        )
    )


def manufacturer_of(session: Session, product: Product) -> Manufacturer | None:
    """The manufacturer of a product, if it has one."""
    if product.manufacturer_id is None:
        return None
    return session.get(Manufacturer, product.manufacturer_id)


def manufacturer_by_code(session: Session, *, code: str) -> Manufacturer | None:
    """Return a manufacturer by code."""
    return session.scalars(select(Manufacturer).where(Manufacturer.code == code)).first()


def hash_api_key(secret: str) -> str:
    """SHA-256 of a till key: keys are 32 random bytes, so a fast hash is enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


def terminal_authenticate(session: Session, *, api_key: str) -> tuple[Terminal, Store]:
    """Return the terminal (and its store) owning a till API key, or raise ``Unauthorized``.

    Keys look like ``rgt_<prefix>_<secret>``; the prefix finds the row, the hash checks it.
    """
    parts = api_key.split("_")
    if len(parts) != 3 or parts[0] != "rgt":
        raise Unauthorized(_("invalid till API key"))
    row = session.execute(
        select(Terminal, Store)
        .join(Store, Store.id == Terminal.store_id)
        .where(Terminal.api_key_prefix == parts[1])
    ).first()
    if row is None:
        raise Unauthorized(_("invalid till API key"))
    terminal, store = row[0], row[1]
    if terminal.api_key_hash is None or terminal.key_revoked_at is not None:
        raise Unauthorized(_("invalid till API key"))
    if not hmac.compare_digest(terminal.api_key_hash, hash_api_key(api_key)):
        raise Unauthorized(_("invalid till API key"))
    return terminal, store


#: How long a till key that passed the check is trusted without asking the database again:
#: a key revoked or replaced stops working within this many seconds in every server process.
TILL_KEY_TTL = 5.0
TILL_KEYS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Coded:
    """A row named by its id and its code (a store or a terminal, as the till API needs it)."""

    id: int
    code: str


@dataclass(frozen=True, slots=True)
class TillRef:
    """The store and terminal a till key belongs to: ids and codes, no ORM objects."""

    store: Coded
    terminal: Coded


def till_ref(session: Session, *, api_key: str) -> TillRef:
    """Check a till key in one Core read; the till's store and terminal, or ``Unauthorized``."""
    parts = api_key.split("_")
    if len(parts) != 3 or parts[0] != "rgt":
        raise Unauthorized(_("invalid till API key"))
    row = session.execute(
        select(
            Terminal.id,
            Terminal.code,
            Terminal.api_key_hash,
            Terminal.key_revoked_at,
            Store.id.label("store_id"),
            Store.code.label("store_code"),
        )
        .join(Store, Store.id == Terminal.store_id)
        .where(Terminal.api_key_prefix == parts[1])
    ).first()
    if row is None or row.api_key_hash is None or row.key_revoked_at is not None:
        raise Unauthorized(_("invalid till API key"))
    if not hmac.compare_digest(row.api_key_hash, hash_api_key(api_key)):
        raise Unauthorized(_("invalid till API key"))
    return TillRef(store=Coded(row.store_id, row.store_code), terminal=Coded(row.id, row.code))


class TillKeys:
    """Till keys that passed the check, each trusted for ``ttl`` seconds (one per app).

    Every receipt carries its till's key; checking it against the database costs a round
    trip per receipt. A key that passed is remembered by its SHA-256 digest (as stored in
    the database, never the key) for :data:`TILL_KEY_TTL` seconds, which bounds how long a
    revoked or replaced key keeps working in another server process; in the process that
    issued or revoked it (:meth:`changed`, called by the catalogue's service) every memory
    forgets at once. A key that fails is never remembered. Safe to share between threads.
    """

    #: Bumped by :meth:`changed`; a memory that saw an older value forgets every key.
    generation = 0

    def __init__(
        self,
        *,
        ttl: float = TILL_KEY_TTL,
        max_keys: int = TILL_KEYS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Remember keys for ``ttl`` seconds by ``clock``, at most ``max_keys`` of them."""
        self._ttl = ttl
        self._max = max(1, max_keys)
        self._clock = clock
        self._keys: dict[str, tuple[TillRef, float]] = {}
        self._lock = threading.Lock()
        self._generation = TillKeys.generation

    @classmethod
    def changed(cls) -> None:
        """A till key was issued or revoked: every memory of this process forgets its keys."""
        cls.generation += 1

    def _current(self) -> None:
        if self._generation != TillKeys.generation:
            with self._lock:
                self._keys.clear()
                self._generation = TillKeys.generation

    def recall(self, api_key: str) -> TillRef | None:
        """The till of ``api_key`` if memory still trusts it, else ``None`` (read it)."""
        self._current()
        known = self._keys.get(hash_api_key(api_key))
        if known is None or known[1] <= self._clock():
            return None
        return known[0]

    def check(self, session: Session, *, api_key: str) -> TillRef:
        """The till of ``api_key``: from memory while trusted, else read (``Unauthorized``)."""
        self._current()
        now = self._clock()
        digest = hash_api_key(api_key)
        known = self._keys.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        till = till_ref(session, api_key=api_key)
        with self._lock:
            self._keys.pop(digest, None)
            if len(self._keys) >= self._max:
                for stale in [d for d, (_t, until) in self._keys.items() if until <= now]:
                    del self._keys[stale]
            while len(self._keys) >= self._max:
                del self._keys[next(iter(self._keys))]  # the oldest check goes first
            self._keys[digest] = (till, now + self._ttl)
        return till

    def forget(self) -> None:
        """Forget every key (the next request of each till reads it again)."""
        with self._lock:
            self._keys.clear()
