"""What the till's suggestion route remembers between requests, so most need no database.

A till asks for suggestions as items are scanned, and the answer must come back in a few
milliseconds. Each answer rests on three facts: which store the till's key belongs to, which
run is in force for that store, and that run's rules (the in-memory index of
:mod:`regulars.baskets.suggest`, built once per run). The first two are read from the
database and then trusted for a short, fixed time, which bounds how stale they can be:

* a till key that passed the check is trusted for :data:`KEY_TTL` seconds; a key revoked or
  replaced stops working **within 5 seconds** in every server process. A key that fails the
  check is never remembered (each try asks the database again), only SHA-256 digests of keys
  are kept (as in the database), and at most :data:`MAX_KEYS` of them;
* the run in force for a store (or the absence of one) is trusted for :data:`RUN_TTL`
  seconds: a newly stored run is used **within 30 seconds**.

When memory holds every fact a request needs, the route answers from memory alone, without
the database and without handing the request to a worker thread. Otherwise one read-only
transaction (a deferred ``BEGIN`` on SQLite: it waits for no writer and blocks none) reads
what is missing, in a worker thread. A fact past half its time is checked again after the
answer has been sent (:meth:`TillMemory.refresh`), so a till that keeps scanning never waits
for the database; the bounds above still hold, since nothing is trusted longer than its
time after it was last read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from regulars.baskets.suggest import SuggestionIndex, index_for
from regulars.catalog.queries import hash_api_key, terminal_authenticate
from regulars.core.db import READ_ONLY
from regulars.core.errors import Unauthorized
from regulars.core.uow import UnitOfWork

__all__ = ["KEY_TTL", "MAX_KEYS", "RUN_TTL", "InForce", "TillMemory"]

KEY_TTL = 5.0
RUN_TTL = 30.0
MAX_KEYS = 10_000
_READ: Mapping[str, bool] = {READ_ONLY: True}


@dataclass(frozen=True, slots=True)
class InForce:
    """The till's store and the suggestion index of the run in force there (if any)."""

    store_id: int
    index: SuggestionIndex | None
    due: bool = False  # past half its time: check again after answering


class TillMemory:
    """Till keys already checked and runs in force, each trusted until its time is up.

    One per app (``app.state``) and session factory; safe to share between threads.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        key_ttl: float = KEY_TTL,
        run_ttl: float = RUN_TTL,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Remember for ``key_ttl`` and ``run_ttl`` seconds by ``clock``."""
        self.session_factory = session_factory
        self._key_ttl = key_ttl
        self._run_ttl = run_ttl
        self._max_keys = max(1, max_keys)
        self._clock = clock
        self._keys: dict[str, tuple[int, float]] = {}  # key digest → (store id, trusted until)
        self._runs: dict[int, tuple[SuggestionIndex | None, float]] = {}  # store id → …
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def recall(self, api_key: str) -> InForce | None:
        """What memory alone can answer for this key, or ``None`` when the database must."""
        now = self._clock()
        key = self._keys.get(hash_api_key(api_key))
        if key is None or key[1] <= now:
            return None
        run = self._runs.get(key[0])
        if run is None or run[1] <= now:
            return None
        due = key[1] - now < self._key_ttl / 2 or run[1] - now < self._run_ttl / 2
        return InForce(key[0], run[0], due)

    def lookup(self, api_key: str, *, again: bool = False) -> InForce:
        """Check the key and find the run in force, reading what memory lacks (all ``again``).

        Raises ``Unauthorized`` for a key that is unknown, revoked or malformed.
        """
        now = self._clock()
        digest = hash_api_key(api_key)
        key = None if again else self._keys.get(digest)
        store_id = key[0] if key is not None and key[1] > now else None
        run = self._runs.get(store_id) if store_id is not None else None
        if store_id is not None and run is not None and run[1] > now:
            return InForce(store_id, run[0])
        with UnitOfWork(self.session_factory) as uow:
            uow.session.connection(execution_options=_READ)
            if store_id is None:
                _terminal, store = terminal_authenticate(uow.session, api_key=api_key)
                store_id = store.id
                self._remember_key(digest, store_id, now + self._key_ttl)
                run = None if again else self._runs.get(store_id)
            if run is not None and run[1] > now:
                return InForce(store_id, run[0])
            index = index_for(uow.session, store_id=store_id)
        with self._lock:
            self._runs[store_id] = (index, now + self._run_ttl)
        return InForce(store_id, index)

    def refresh(self, api_key: str) -> None:
        """Check a key and its store's run in force again (after an answer from memory).

        A key found revoked is forgotten at once, so the till's next request is refused.
        Concurrent refreshes of one key are done once.
        """
        digest = hash_api_key(api_key)
        with self._lock:
            if digest in self._refreshing:
                return
            self._refreshing.add(digest)
        try:
            self.lookup(api_key, again=True)
        except Unauthorized:
            with self._lock:
                self._keys.pop(digest, None)
        finally:
            with self._lock:
                self._refreshing.discard(digest)

    def forget(self) -> None:
        """Forget every key and run (the next requests read them again)."""
        with self._lock:
            self._keys.clear()
            self._runs.clear()

    def _remember_key(self, digest: str, store_id: int, until: float) -> None:
        with self._lock:
            self._keys.pop(digest, None)
            if len(self._keys) >= self._max_keys:
                now = self._clock()
                for stale in [d for d, (_s, t) in self._keys.items() if t <= now]:
                    del self._keys[stale]
            while len(self._keys) >= self._max_keys:
                del self._keys[next(iter(self._keys))]  # the oldest check goes first
            self._keys[digest] = (store_id, until)
