"""Set-based reads and writes of bulk imports: lists as one parameter, on both databases."""

from __future__ import annotations

import polars as pl
from sqlalchemy import insert, select

from regulars.catalog.models import Store
from regulars.imports import bulk

AWKWARD = ['say "hi"', "back\\slash", "NULL", "a,b", "{braces}", " spaced ", "中文"]


def test_pg_array_quotes_every_value_and_keeps_nulls() -> None:
    assert bulk.pg_array(pl.Series(["NULL", None, 'a"b', "c\\d"])) == (
        '{"NULL",NULL,"a\\"b","c\\\\d"}'
    )
    assert bulk.pg_array([1, 2]) == '{"1","2"}'
    assert bulk.pg_array(pl.Series([], dtype=pl.String)) == "{}"


def test_fetch_in_finds_awkward_text_and_numbers(uow) -> None:
    uow.session.execute(
        insert(Store),
        [{"code": f"Z{i}", "name": name, "is_demo": False} for i, name in enumerate(AWKWARD)],
    )
    uow.flush()
    found = bulk.fetch_in(
        uow,
        "SELECT name, id FROM store WHERE name {values}",
        pl.Series([*AWKWARD, "missing"]),
        {"name": pl.String, "id": pl.Int64},
    )
    assert sorted(found["name"].to_list()) == sorted(AWKWARD)
    by_id = bulk.fetch_in(
        uow, "SELECT name, id FROM store WHERE id {values}", found["id"], found.schema
    )
    assert by_id.sort("id").equals(found.sort("id"))


def test_update_from_writes_each_row_by_key(uow) -> None:
    made = uow.session.execute(
        insert(Store).returning(Store.id),
        [{"code": f"U{i}", "name": "old", "is_demo": False} for i in range(3)],
    )
    ids = [int(i) for (i,) in made]
    bulk.update_from(
        uow,
        "UPDATE store SET name = v.name FROM {rows} WHERE store.id = v.id",
        pl.DataFrame({"id": ids[:2], "name": AWKWARD[:2]}),
        {"id": "bigint", "name": "text"},
    )
    names = dict(uow.session.execute(select(Store.id, Store.name).where(Store.id.in_(ids))).all())
    assert names == {ids[0]: AWKWARD[0], ids[1]: AWKWARD[1], ids[2]: "old"}


def test_write_cache_is_bigger_inside_and_restored_after(uow) -> None:
    if bulk.is_pg(uow):
        with bulk.write_cache(uow):
            pass
        return
    raw = uow.session.connection().connection.driver_connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    with bulk.write_cache(uow, mebibytes=8):
        assert raw.execute("PRAGMA cache_size").fetchone()[0] == -8192
    assert raw.execute("PRAGMA cache_size").fetchone()[0] == before != -8192
