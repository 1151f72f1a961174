"""Pydantic's validation errors as reasons in the reader's language."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import pytest
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from regulars.core.reasons import validation_reason
from regulars.core.schemas import domain_check
from regulars.members import rules

pytestmark = pytest.mark.nodb  # no database: run once


class _Form(BaseModel):
    name: str = Field(max_length=5)
    count: int = Field(ge=1)
    price: Decimal = Field(decimal_places=2)
    at: datetime
    kind: Literal["sale", "return"]
    mobile: Annotated[str, AfterValidator(lambda v: domain_check(rules.normalise_mobile, v))]


def _reasons(data: dict[str, object], locale: str) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _Form.model_validate(data)
    return {str(e["loc"][0]): validation_reason(e, locale) for e in caught.value.errors()}


BAD = {
    "name": "Too long a name",
    "count": 0,
    "price": "1.234",
    "at": "yesterday",
    "kind": "gift",
    "mobile": "123",
}


def test_reasons_in_chinese_name_the_limit() -> None:
    zh = _reasons(BAD, "zh-CN")
    assert zh["name"] == "最多 5 个字符"
    assert zh["count"] == "不能小于 1"
    assert zh["price"] == "最多 2 位小数"
    assert zh["at"] == "不是有效的日期时间"
    assert zh["kind"] == "必须是以下之一：'sale' or 'return'"
    assert zh["mobile"] == "123 不是有效的大陆手机号"
    assert _reasons({k: v for k, v in BAD.items() if k != "kind"}, "zh_CN")["kind"] == "必填"


def test_reasons_in_english_are_pydantics_own_and_the_rules() -> None:
    en = _reasons(BAD, "en")
    assert en["name"] == "String should have at most 5 characters"
    assert en["count"] == "Input should be greater than or equal to 1"
    assert en["mobile"] == "123 is not a mainland mobile number"


def test_a_rule_message_follows_the_reader_whatever_it_was_written_in() -> None:
    from regulars.core.i18n import messages_in

    with messages_in("zh_CN"):  # the rule's message is first written in Chinese
        en = _reasons(BAD, "en")
    assert en["mobile"] == "123 is not a mainland mobile number"
