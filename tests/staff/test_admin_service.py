"""An admin helping a colleague: reset a password, unlock, set the role and stores; who may
not be changed, what ends, and what the audit trail records (never the password)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from regulars.core.errors import InvalidInput, NotFound, RuleViolation, Unauthorized
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.staff import audit, rules, service
from regulars.staff.models import StaffAccount, StaffToken
from regulars.staff.sessions import session_create, session_find
from tests.factories.web import PASSWORD, make_staff
from tests.factories.world import World, build_world


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow, products=1, members=1)


def _account(uow: UnitOfWork, username: str) -> StaffAccount:
    return uow.session.scalars(select(StaffAccount).where(StaffAccount.username == username)).one()


def _lock(uow: UnitOfWork, username: str) -> None:
    """Lock an account the way a guesser does: too many wrong passwords."""
    for _ in range(rules.MAX_FAILED_LOGINS):
        with pytest.raises(Unauthorized):
            service.staff_authenticate(uow, username=username, password="wrong-password")
    assert service.staff_is_locked(_account(uow, username))


def test_reset_gives_a_one_time_password_and_ends_access(uow: UnitOfWork) -> None:
    admin = make_staff(uow, "ada", "admin")
    bob = make_staff(uow, "bob", "cashier")
    session_id, _row = session_create(uow, account=bob)
    service.token_issue(uow, account=bob)
    _lock(uow, "bob")

    account, one_time = service.staff_reset_password(uow, staff_id=bob.id, by=admin, page="/x")

    assert account.id == bob.id and len(one_time) >= 12
    assert PASSWORD not in one_time and one_time not in account.password_hash
    assert account.must_change_password and not service.staff_is_locked(account)
    assert session_find(uow, session_id=session_id) is None
    assert uow.session.scalars(select(StaffToken).where(StaffToken.staff_id == bob.id)).all() == []
    assert service.staff_authenticate(uow, username="bob", password=one_time).id == bob.id
    with pytest.raises(Unauthorized):
        service.staff_authenticate(uow, username="bob", password=PASSWORD)
    (event,) = audit.audit_search(uow, action="staff_password_reset")
    assert (event.actor, event.staff_id, event.page) == ("ada", admin.id, "/x")
    assert event.detail == {"staff_id": bob.id, "username": "bob"}
    assert one_time not in json.dumps(event.detail)


def test_an_admin_resets_not_their_own_password(uow: UnitOfWork) -> None:
    admin = make_staff(uow, "ada", "admin")
    session_id, _row = session_create(uow, account=admin)
    with pytest.raises(RuleViolation) as refused:
        service.staff_reset_password(uow, staff_id=admin.id, by=admin)
    assert refused.value.field == "staff_id"
    assert session_find(uow, session_id=session_id) is not None
    assert audit.audit_search(uow) == []
    # The command line (no ``by``) may: it is how a lone admin who forgot theirs gets back in.
    _reset, one_time = service.staff_reset_password(uow, staff_id=admin.id)
    assert service.staff_authenticate(uow, username="ada", password=one_time).id == admin.id
    assert audit.audit_search(uow, action="staff_password_reset")[0].actor == "cli"


def test_unlock_lifts_the_lockout(uow: UnitOfWork) -> None:
    admin = make_staff(uow, "ada", "admin")
    bob = make_staff(uow, "bob", "cashier")
    session_id, _row = session_create(uow, account=bob)
    _lock(uow, "bob")
    with pytest.raises(Unauthorized):
        service.staff_authenticate(uow, username="bob", password=PASSWORD)

    service.staff_unlock(uow, staff_id=bob.id, by=admin, page="/staff")

    assert service.staff_authenticate(uow, username="bob", password=PASSWORD).id == bob.id
    assert session_find(uow, session_id=session_id) is not None  # unlocking ends nothing
    service.staff_unlock(uow, staff_id=bob.id)  # no longer locked: harmless
    events = audit.audit_search(uow, action="staff_unlock")
    assert [(e.actor, e.detail["was_locked"]) for e in events] == [("cli", False), ("ada", True)]
    assert events[1].detail == {"staff_id": bob.id, "username": "bob", "was_locked": True}


def test_an_expired_lock_is_not_a_lock(uow: UnitOfWork) -> None:
    bob = make_staff(uow, "bob", "cashier")
    bob.locked_until = utcnow() - timedelta(minutes=1)
    assert not service.staff_is_locked(bob)
    bob.locked_until = utcnow() + timedelta(minutes=1)
    assert service.staff_is_locked(bob)


def test_set_role_and_stores(uow: UnitOfWork, world: World) -> None:
    admin = _account(uow, "t_admin")
    cashier = _account(uow, "t_cashier")
    token, _row = service.token_issue(uow, account=cashier)
    session_id, _session = session_create(uow, account=cashier)
    store = world.store.id

    account = service.staff_set_role(
        uow, staff_id=cashier.id, role="store_manager", store_ids=[store, store], by=admin
    )

    assert (account.role, account.store_ids) == ("store_manager", [store])
    # Every request reads the role afresh: the token and session carry on with the new one.
    assert service.token_verify(uow, token=token).role == "store_manager"
    assert session_find(uow, session_id=session_id) is not None
    (event,) = audit.audit_search(uow, action="staff_role")
    assert event.actor == "t_admin" and event.page == "cli"
    assert event.detail == {
        "staff_id": cashier.id,
        "username": "t_cashier",
        "role": "store_manager",
        "store_ids": [store],
        "before": {"role": "cashier", "store_ids": [store]},
    }
    account = service.staff_set_role(uow, staff_id=cashier.id, role="analyst", store_ids=[])
    assert (account.role, account.store_ids) == ("analyst", [])


@pytest.mark.parametrize(
    ("role", "stores", "field", "error"),
    [
        ("boss", [], "role", InvalidInput),
        ("cashier", [999_999], "store_ids", InvalidInput),
        ("cashier", [0], "store_ids", InvalidInput),
        ("cashier", [2_147_483_648], "store_ids", InvalidInput),
        ("store_manager", [], "store_ids", RuleViolation),
    ],
)
def test_set_role_refuses_bad_values(
    uow: UnitOfWork, world: World, role: str, stores: list[int], field: str, error: type
) -> None:
    cashier = _account(uow, "t_cashier")
    with pytest.raises(error) as refused:
        service.staff_set_role(uow, staff_id=cashier.id, role=role, store_ids=stores)
    assert refused.value.field == field
    assert _account(uow, "t_cashier").role == "cashier"
    assert audit.audit_search(uow, action="staff_role") == []


def test_an_admin_keeps_their_own_role_and_the_last_admin_stays(
    uow: UnitOfWork, world: World
) -> None:
    admin = _account(uow, "t_admin")
    with pytest.raises(RuleViolation) as refused:
        service.staff_set_role(uow, staff_id=admin.id, role="analyst", store_ids=[], by=admin)
    assert refused.value.field == "role" and "your own account" in str(refused.value)
    # Not from the command line either, while it is the last active admin.
    with pytest.raises(RuleViolation) as refused:
        service.staff_set_role(uow, staff_id=admin.id, role="analyst", store_ids=[])
    assert refused.value.field == "role" and "last active administrator" in str(refused.value)
    # Keeping the role while changing the stores is fine.
    assert (
        service.staff_set_role(
            uow, staff_id=admin.id, role="admin", store_ids=[], by=admin
        ).store_ids
        == []
    )

    other = _account(uow, "t_marketing")
    service.staff_set_role(uow, staff_id=other.id, role="admin", store_ids=[], by=admin)
    assert service.staff_set_role(uow, staff_id=admin.id, role="analyst", store_ids=[]).role == (
        "analyst"
    )
    with pytest.raises(RuleViolation):
        service.staff_set_role(uow, staff_id=other.id, role="cashier", store_ids=[])
    # A disabled admin does not count, and demoting one takes nobody's access away.
    service.staff_set_role(uow, staff_id=admin.id, role="admin", store_ids=[])
    service.staff_set_active(uow, staff_id=admin.id, active=False)
    with pytest.raises(RuleViolation):
        service.staff_set_active(uow, staff_id=other.id, active=False)
    assert service.staff_set_role(uow, staff_id=admin.id, role="cashier", store_ids=[]).role == (
        "cashier"
    )


@pytest.mark.parametrize("change", ["reset", "unlock", "role"])
def test_an_unknown_account_is_not_found(uow: UnitOfWork, change: str) -> None:
    with pytest.raises(NotFound) as missing:
        if change == "reset":
            service.staff_reset_password(uow, staff_id=999_999)
        elif change == "unlock":
            service.staff_unlock(uow, staff_id=999_999)
        else:
            service.staff_set_role(uow, staff_id=999_999, role="cashier", store_ids=[])
    assert missing.value.field == "staff_id"
    assert audit.audit_search(uow) == []
