"""Bulk import of members: good rows load, bad rows are reported, a re-run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from regulars.core.crypto import get_cipher
from regulars.imports.service import import_file
from regulars.members.models import Member
from regulars.members.queries import member_by_card
from tests.factories.imports import errors_by_line, write_table

ROWS: list[dict[str, object]] = [
    {
        "card_no": "C1000001",
        "mobile": "13900001001",
        "name": "Alice",
        "household_size": "3",
        "hobbies": "tea; books",
        "age_band": "35-44",
        "extra_kids_count": "2",
    },
    {"card_no": None, "mobile": "12345", "name": "Bob"},
    {"card_no": "C1000003", "mobile": "13900001003", "name": "Carol", "household_size": "99"},
    {"card_no": None, "mobile": None, "external_ref": "ref-5", "name": "Dan"},
    {"card_no": "C1000001", "mobile": "13900001006", "name": "Alice again"},
    {"card_no": "C1000007", "name": "Eve", "birthday": "1990-02-30"},
    {"card_no": "C1000008", "name": "Fay", "age_band": "x" * 30},
    {"card_no": "C1000009", "name": "Gus"},
]


def _count(uow) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(Member)) or 0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_members_good_rows_load_bad_rows_reported_rerun_unchanged(uow, tmp_path, suffix) -> None:
    path = write_table(tmp_path / f"members{suffix}", ROWS)
    before = _count(uow)
    run, outcome = import_file(uow, kind="members", data=path, filename=path.name)
    assert (run.rows_total, run.rows_loaded, run.rows_unchanged, run.rows_bad) == (8, 2, 0, 6)
    errors = errors_by_line(outcome)
    assert set(errors) == {3, 4, 5, 6, 7, 8}
    assert errors[3][0][0] == "mobile" and "mobile" in errors[3][0][1]
    assert errors[4][0][0] == "household_size"
    assert errors[5] == [("mobile", "a mobile number or a card number is required")]
    assert errors[6] == [("card_no", "repeats line 2")]
    assert errors[7][0][0] == "birthday"
    assert errors[8][0][0] == "age_band"
    assert _count(uow) == before + 2
    alice = member_by_card(uow.session, card_no="C1000001")
    assert alice is not None
    assert alice.mobile_masked == "139****1001"
    assert alice.mobile_index == get_cipher().blind_index("+8613900001001")
    assert get_cipher().decrypt(alice.mobile_enc) == "+8613900001001"
    assert alice.hobbies == ["tea", "books"]
    assert alice.household_size == 3 and alice.age_band == "35-44"
    assert alice.extra == {"kids_count": "2"}
    assert alice.source == "import"
    assert run.report_path is not None
    report = Path(run.report_path).read_text(encoding="utf-8").splitlines()
    assert report[0] == "line,column,reason,value" and len(report) == 1 + len(outcome.errors)

    again, _outcome = import_file(uow, kind="members", data=path, filename=path.name)
    assert (again.rows_loaded, again.rows_unchanged, again.rows_bad) == (0, 2, 6)
    assert _count(uow) == before + 2


def test_members_update_known_member_and_refuse_split_keys(uow, tmp_path) -> None:
    first = write_table(
        tmp_path / "a.csv",
        [
            {"card_no": "C2000001", "mobile": "13900002001"},
            {"card_no": "C2000002", "mobile": "13900002002"},
        ],
    )
    import_file(uow, kind="members", data=first, filename="a.csv")
    second = write_table(
        tmp_path / "b.csv",
        [
            {"card_no": "C2000001", "mobile": None, "community": "Lakeside"},
            {"card_no": "C2000001", "mobile": "13900002002", "community": None},
        ],
    )
    run, outcome = import_file(uow, kind="members", data=second, filename="b.csv")
    assert (run.rows_loaded, run.rows_bad) == (1, 1)
    assert errors_by_line(outcome)[3][0][0] == "card_no"
    member = member_by_card(uow.session, card_no="C2000001")
    assert member is not None and member.community == "Lakeside"
    assert member.mobile_masked == "139****2001"  # an empty cell keeps the value
