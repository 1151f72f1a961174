"""Every marked message has a Chinese translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from regulars.core.i18n import normalise_locale, translate

LOCALES = Path(__file__).resolve().parents[2] / "src" / "regulars" / "i18n" / "locales"


def test_every_message_is_translated_to_chinese() -> None:
    with (LOCALES / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    with (LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        chinese = {str(m.id): str(m.string) for m in read_po(handle, locale="zh_CN") if m.id}
    ids = [str(m.id) for m in template if m.id]
    assert ids, "the template is empty: run ./scripts/i18n"
    untranslated = [i for i in ids if not chinese.get(i)]
    assert untranslated == []
    for message in ids:
        assert set(re.findall(r"{(\w+)}", message)) == set(
            re.findall(r"{(\w+)}", chinese[message])
        ), message


def test_translate_fills_placeholders_and_falls_back_to_english() -> None:
    assert translate("store {code} not found", "zh-CN,zh;q=0.9", code="S1") == "未找到门店 S1"
    assert translate("store {code} not found", "en-US", code="S1") == "store S1 not found"
    assert translate("not in the catalogue", "zh_CN") == "not in the catalogue"
    assert normalise_locale("fr-FR") == "en"


def test_catalogue_template_is_up_to_date() -> None:
    source = LOCALES.parents[1]
    found = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(source),
            method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2")],
            keywords={"_": None},
        )
    }
    with (LOCALES / "messages.pot").open("rb") as handle:
        template = {str(m.id) for m in read_po(handle) if m.id}
    assert found - template == set(), "run ./scripts/i18n and translate the new messages"
