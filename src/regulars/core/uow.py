"""The unit of work: one transaction per request or command, owned by the entrypoint."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    """Own a session; roll back on exit unless :meth:`commit` was called.

    Services receive the unit of work, use ``uow.session`` and may ``flush()``, but never
    commit: the entrypoint decides, so a checkout (receipt, points, offers) is atomic.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The open session (only inside ``with``)."""
        if self._session is None:
            raise RuntimeError("unit of work is not open")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        """Commit the work done so far."""
        self.session.commit()

    def rollback(self) -> None:
        """Throw away the work done so far."""
        self.session.rollback()

    def flush(self) -> None:
        """Send pending changes to the database (to get ids) without committing."""
        self.session.flush()
