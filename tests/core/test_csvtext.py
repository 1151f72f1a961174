"""CSV text from staff uploads: every line read or reported, none raising."""

from __future__ import annotations

from regulars.core.csvtext import CsvText


def test_line_ends_of_every_kind_and_a_nul_line_reported() -> None:
    text = "\ufeffa,b\r1,2\r\n3,4\n5,\x006\n7,8"
    reader = CsvText(text)
    rows = list(reader)
    assert reader.columns == ["a", "b"]
    assert [(r.line, r.fields, r.error is None) for r in rows] == [
        (2, {"a": "1", "b": "2"}, True),
        (3, {"a": "3", "b": "4"}, True),
        (4, {}, False),
        (5, {"a": "7", "b": "8"}, True),
    ]


def test_a_quoted_field_over_two_lines_counts_its_last_line() -> None:
    rows = list(CsvText('a,b\n"x\ny",1\n2,3\n'))
    assert [(r.line, r.fields["a"]) for r in rows] == [(3, "x\ny"), (4, "2")]


def test_an_empty_or_headerless_file_has_no_columns() -> None:
    assert CsvText("").columns == []
    assert CsvText("\r0\r\n").columns == []
