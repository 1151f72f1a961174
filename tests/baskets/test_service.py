"""Mining the operational database into stored runs; the run in force; pruning; suggestions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import func, select

from regulars.baskets import queries, service
from regulars.baskets.models import BasketRule, BasketRuleItem, BasketRun
from regulars.baskets.queries import RuleFilter
from regulars.baskets.schemas import MineIn
from regulars.baskets.suggest import index_build, index_for
from regulars.core.errors import InvalidInput, NotFound
from regulars.jobs.baskets import baskets_mine, read_baskets
from tests.factories.baskets import LESSON, WHEN, Shop, other_store, record

LESSON_RULES = MineIn(level="product", min_support=0.2, min_confidence=0.5, min_lift=0)


def _rule(uow, run: BasketRun, body: list[str], head: str) -> BasketRule:
    rules = [
        r
        for r in queries.rules_all(uow.session, run_id=run.id)
        if sorted(r.antecedent) == sorted(body) and r.consequent == head
    ]
    assert len(rules) == 1, (body, head)
    return rules[0]


def test_the_lesson_is_mined_from_receipts_and_stored(uow, shop: Shop) -> None:
    run = baskets_mine(uow, data=LESSON_RULES, started_by="test")
    assert run.status == "done" and run.transactions == 5 and run.revision
    assert run.rules == uow.session.scalar(
        select(func.count()).select_from(BasketRule).where(BasketRule.run_id == run.id)
    )
    beer_diapers = _rule(uow, run, [shop.key("beer")], shop.key("diapers"))
    assert beer_diapers.support == pytest.approx(0.6)
    assert beer_diapers.confidence == pytest.approx(0.75)
    assert beer_diapers.lift == pytest.approx(0.75 / 0.8)
    assert beer_diapers.count == 3
    powder = _rule(uow, run, [shop.key("baby powder")], shop.key("diapers"))
    assert powder.confidence == pytest.approx(1.0)
    assert powder.conviction is None  # infinite: the powder never goes without diapers
    assert powder.leverage == pytest.approx(0.4 - 0.4 * 0.8)
    # every antecedent item is indexed for "rules bought with X"
    items = uow.session.scalars(
        select(BasketRuleItem.item).where(BasketRuleItem.rule_id == powder.id)
    ).all()
    assert items == [shop.key("baby powder")]


def test_returns_and_other_periods_and_stores_are_left_out(uow, shop: Shop) -> None:
    store, terminal = other_store(uow)
    record(uow, shop, [["beer", "cola"]] * 5, store=store, terminal=terminal)
    record(uow, shop, [["beer", "cola"]] * 5, at=datetime(2026, 1, 5, tzinfo=UTC))
    record(uow, shop, [["beer", "cola"]] * 5, kind="return")
    uow.commit()
    data = LESSON_RULES.model_copy(
        update={
            "store_id": shop.store.id,
            "period_from": date(2026, 11, 1),
            "period_to": date(2026, 11, 30),
        }
    )
    run = baskets_mine(uow, data=data)
    assert run.transactions == 5  # the lesson's five receipts only
    assert _rule(uow, run, [shop.key("beer")], shop.key("diapers")).support == pytest.approx(0.6)
    everything = baskets_mine(uow, data=LESSON_RULES)
    assert everything.transactions == 15
    baskets = read_baskets(uow.session.connection(), period_to=date(2026, 1, 5))
    assert baskets.height == 5  # the January receipts (5 January is 08:00 in Shanghai)
    assert baskets["products"].list.sort().to_list() == [shop.ids("beer", "cola")] * 5


def test_a_product_on_two_lines_counts_once(uow, shop: Shop) -> None:
    record(uow, shop, [["beer", "cola", "beer"]])
    uow.commit()
    run = baskets_mine(uow, data=LESSON_RULES)
    assert run.transactions == 6
    rule = _rule(uow, run, [shop.key("cola")], shop.key("beer"))
    assert rule.count == 2 and rule.confidence == pytest.approx(1.0)
    milk = _rule(uow, run, [shop.key("milk")], shop.key("beer"))
    assert milk.lift == pytest.approx(1.0 / (5 / 6))  # beer is in 5 of 6 baskets, not 6


def test_category_and_brand_levels(uow, shop: Shop) -> None:
    run = baskets_mine(
        uow, data=LESSON_RULES.model_copy(update={"level": "category"}), started_by="test"
    )
    assert _rule(uow, run, ["Beer"], "Diapers").confidence == pytest.approx(0.75)
    brands = baskets_mine(uow, data=LESSON_RULES.model_copy(update={"level": "brand"}))
    # Tsingtao makes both the beer and the cola: basket 5 counts once.
    rule = _rule(uow, brands, ["Tsingtao"], "Pampers")
    assert rule.count == 3 and rule.confidence == pytest.approx(0.75)


def test_the_run_in_force_is_the_newest_done_one_of_its_scope(uow, shop: Shop) -> None:
    first = baskets_mine(uow, data=LESSON_RULES)
    second = baskets_mine(uow, data=LESSON_RULES)
    category = baskets_mine(uow, data=LESSON_RULES.model_copy(update={"level": "category"}))
    assert queries.run_active(uow.session, level="product").id == second.id
    assert queries.run_active(uow.session, level="category").id == category.id
    # a store without its own run falls back to the chain's; with one, it gets its own
    assert queries.run_active(uow.session, level="product", store_id=shop.store.id).id == second.id
    own = baskets_mine(uow, data=LESSON_RULES.model_copy(update={"store_id": shop.store.id}))
    assert queries.run_active(uow.session, level="product", store_id=shop.store.id).id == own.id
    assert queries.run_active(uow.session, level="product").id == second.id
    # a failed run is never in force
    failed = service.run_start(uow, data=LESSON_RULES)
    service.run_fail(uow, run_id=failed.id, error="boom")
    assert queries.run_active(uow.session, level="product").id == second.id
    assert queries.run_token(uow.session, level="product", store_id=None) == (
        second.id,
        second.revision,
    )
    assert queries.run_token(uow.session, level="product", store_id=shop.store.id) == (
        own.id,
        own.revision,
    )
    assert queries.run_token(uow.session, level="product", store_id=99_999)[0] == second.id
    assert queries.run_token(uow.session, level="brand", store_id=shop.store.id) is None
    assert service.runs_prune(uow, keep=1) == 1  # the first product run
    assert uow.session.get(BasketRun, first.id) is None
    assert (
        uow.session.scalar(
            select(func.count()).select_from(BasketRule).where(BasketRule.run_id == first.id)
        )
        == 0
    )


def test_a_failing_run_is_recorded_with_its_reason(uow, shop: Shop, monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("regulars.jobs.baskets.mine_baskets", broken)
    with pytest.raises(RuntimeError):
        baskets_mine(uow, data=LESSON_RULES)
    run = queries.runs_list(uow.session, limit=1)[0]
    assert run.status == "failed" and "disk full" in (run.error or "")
    with pytest.raises(NotFound):
        baskets_mine(uow, data=LESSON_RULES.model_copy(update={"store_id": 99_999}))


def test_rules_are_searched_by_item_name_and_thresholds(uow, shop: Shop) -> None:
    run = baskets_mine(uow, data=LESSON_RULES)
    total, rows = queries.rules_search(uow.session, run=run, where=RuleFilter(item="纸尿裤"))
    diapers = shop.key("diapers")
    assert total == len(rows) > 0
    assert all(diapers in (*r.antecedent, r.consequent) for r in rows)
    total_all, _ = queries.rules_search(uow.session, run=run, where=RuleFilter())
    strong, rows = queries.rules_search(
        uow.session, run=run, where=RuleFilter(min_confidence=0.99, order="confidence")
    )
    assert 0 < strong < total_all and all(r.confidence >= 0.99 for r in rows)
    assert queries.rules_search(uow.session, run=run, where=RuleFilter(item="nothing-like"))[0] == 0
    with_it, to_it = queries.rules_companions(uow.session, run_id=run.id, item=diapers)
    assert {r.consequent for r in to_it} == {diapers}
    assert all(diapers in r.antecedent for r in with_it)


def test_suggestions_follow_the_score_and_skip_what_is_in_the_basket(uow, shop: Shop) -> None:
    run = baskets_mine(uow, data=LESSON_RULES)
    index = index_build(uow.session, run_id=run.id)
    beer, diapers, milk, powder = shop.ids("beer", "diapers", "milk", "baby powder")
    # {beer}: beer ⇒ diapers scores 0.75 × 0.9375, beer ⇒ milk 0.5 × 1.25
    found = index.suggest([beer])
    assert [s.product_id for s in found] == [diapers, milk]
    assert found[0].score == pytest.approx(0.75 * 0.9375) and found[0].because == (beer,)
    # by barcode too; diapers are in the basket now, so never suggested
    found = index.suggest([], [shop.goods["beer"].barcode, shop.goods["diapers"].barcode])
    assert diapers not in [s.product_id for s in found]
    assert {s.product_id for s in found} == {milk, powder}
    assert len(index.suggest(shop.ids(*LESSON[0]))) <= 3
    assert index.suggest([]) == []


def test_the_index_follows_the_run_in_force(uow, shop: Shop) -> None:
    assert index_for(uow.session, store_id=shop.store.id) is None
    first = baskets_mine(uow, data=LESSON_RULES)
    index = index_for(uow.session, store_id=shop.store.id)
    assert index is not None and index.run_id == first.id
    assert index_for(uow.session, store_id=shop.store.id) is index  # cached
    record(uow, shop, [["umbrella", "bread"]] * 20, at=WHEN)
    uow.commit()
    second = baskets_mine(uow, data=LESSON_RULES)
    newer = index_for(uow.session, store_id=shop.store.id)
    assert newer is not None and newer.run_id == second.id
    umbrella, bread = shop.ids("umbrella", "bread")
    assert [s.product_id for s in newer.suggest([umbrella])][:1] == [bread]


def test_each_stored_rule_keeps_its_own_antecedent_items(uow, shop: Shop) -> None:
    record(uow, shop, [["beer", "diapers", "milk"], ["beer", "diapers", "milk", "cola"]])
    uow.commit()
    run = baskets_mine(uow, data=LESSON_RULES)
    rules = queries.rules_all(uow.session, run_id=run.id)
    assert any(len(r.antecedent) > 1 for r in rules)
    items: dict[int, set[str]] = {}
    for rule_id, item in uow.session.execute(
        select(BasketRuleItem.rule_id, BasketRuleItem.item).where(BasketRuleItem.run_id == run.id)
    ):
        items.setdefault(rule_id, set()).add(item)
    assert {r.id: set(r.antecedent) for r in rules} == items


def test_a_rule_given_twice_is_refused(uow, shop: Shop) -> None:
    rules = pl.DataFrame(
        {
            "antecedent": [["1"], ["1"]],
            "consequent": [["2"], ["2"]],
            "count": [2, 2],
            "support": [0.5, 0.5],
            "confidence": [0.5, 0.5],
            "lift": [1.0, 1.0],
            "leverage": [0.0, 0.0],
            "conviction": [1.0, 1.0],
        }
    )
    run = service.run_start(uow, data=LESSON_RULES)
    with pytest.raises(InvalidInput):
        service.run_finish(uow, run_id=run.id, rules=rules, transactions=4, itemsets=3, seconds=0.0)


def test_rule_filters_read_query_parameters_as_typed() -> None:
    assert queries.as_number("0,5") == 0.5 and queries.as_number(0.25) == 0.25
    for unreadable in (None, "", "  ", "x", "nan", "inf", "-1"):
        assert queries.as_number(unreadable) is None, unreadable
    assert queries.as_number("2", high=1) is None and queries.as_number("1", high=1) == 1.0
    where = queries.rule_filter(
        min_support="2", min_confidence=0.5, min_lift="1,5", item="  ", order="bogus"
    )
    assert where == RuleFilter(min_confidence=0.5, min_lift=1.5)
    assert queries.rule_filter(item=" Beer ", order="support") == RuleFilter(
        item="Beer", order="support"
    )
