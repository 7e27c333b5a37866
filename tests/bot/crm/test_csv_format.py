"""bot.crm.csv_format: every bad cell of a shop's CSV export is reported, with file and line."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from bot.crm.csv_format import (
    BadCell, Row, amount, boolean, check, choice, email, iso_date, iso_datetime, pattern,
    quantity, read_rows, show, text,
)

REQUIRED = ("order_number", "email")


def _csv(tmp_path: Path, content: str | bytes, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _read(path: Path | None, required: tuple[str, ...] = REQUIRED) -> tuple[list[Row], list[str]]:
    problems: list[str] = []
    return read_rows(path, required, problems), problems


def test_rows_remember_their_file_and_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "\ufeff Order_Number ,EMAIL,,note\r\n"
                          "RP-100001, ada@example.com ,x,\r\n"
                          ",,,\r\n"
                          "RP-100002,bo@example.com,y,\"two\nlines\"\r\n"
                          "RP-100003,cy@example.com,z,last\r\n")
    rows, problems = _read(path)
    assert problems == []
    assert rows == [
        Row("orders.csv", 2, {"order_number": "RP-100001", "email": "ada@example.com",
                              "note": ""}),
        Row("orders.csv", 4, {"order_number": "RP-100002", "email": "bo@example.com",
                              "note": "two\nlines"}),
        Row("orders.csv", 6, {"order_number": "RP-100003", "email": "cy@example.com",
                              "note": "last"}),
    ]


def test_no_file_is_no_rows() -> None:
    assert _read(None) == ([], [])


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    assert _read(tmp_path / "gone.csv") == (
        [], ["gone.csv: cannot read the file (No such file or directory)"])


def test_a_file_that_is_not_utf8_is_reported_at_its_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, b"order_number,email\nRP-100001,caf\xe9@example.com\n")
    assert _read(path) == ([], ["orders.csv:2: not UTF-8 text"])


def test_nul_bytes_are_reported_and_dropped(tmp_path: Path) -> None:
    path = _csv(tmp_path, "order_number,email\nRP-100001,a\x00da@example.com\n")
    rows, problems = _read(path)
    assert problems == ["orders.csv:2: contains a NUL byte"]
    assert rows[0].cells["email"] == "ada@example.com"


def test_an_empty_file_has_no_header(tmp_path: Path) -> None:
    assert _read(_csv(tmp_path, "")) == ([], ["orders.csv: empty file (expected a header row)"])


def test_missing_and_duplicated_columns_stop_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path, "order_number,note,Note\nRP-100001,a,b\n")
    assert _read(path) == ([], ["orders.csv:1: column(s) note appear more than once",
                                "orders.csv:1: missing column(s) email"])


def test_a_row_with_the_wrong_number_of_fields_is_skipped(tmp_path: Path) -> None:
    path = _csv(tmp_path, "order_number,email\nRP-100001\nRP-100002,bo@example.com,extra\n"
                          "RP-100003,cy@example.com\n")
    rows, problems = _read(path)
    assert problems == ["orders.csv:2: expected 2 fields, found 1",
                        "orders.csv:3: expected 2 fields, found 3"]
    assert [row.line for row in rows] == [4]


def test_unreadable_csv_stops_the_file_where_it_happened(tmp_path: Path) -> None:
    huge = "x" * 200_000  # past the csv module's field size limit
    path = _csv(tmp_path, f"order_number,email\nRP-100001,ada@example.com\nRP-2,\"{huge}\"\n")
    rows, problems = _read(path)
    assert [row.line for row in rows] == [2]
    assert len(problems) == 1
    assert re.match(r"^orders\.csv:3: unreadable CSV \(field larger than field limit", problems[0])
    assert problems[0].endswith("; stopped here")


def _row(**cells: str) -> Row:
    return Row("orders.csv", 7, cells)


def test_check_parses_a_cell_or_records_why_not() -> None:
    problems: list[str] = []
    row = _row(qty="3", price="abc", note="")
    assert check(row, problems, "qty", quantity) == 3
    assert check(row, problems, "price", amount, default=0.0) == 0.0
    assert check(row, problems, "note", text(10), required=False, default="-") == "-"
    assert check(row, problems, "email", email) is None
    assert problems == ["orders.csv:7: price 'abc' is not an amount like 12.50",
                        "orders.csv:7: email is empty"]


@pytest.mark.parametrize("parse, raw, expected", [
    (text(5), "hello", "hello"),
    (pattern(re.compile(r"^RP-\d{6}$"), "an order number", str.upper), "rp-100001", "RP-100001"),
    (email, "Ada.Lovelace+shop@Example.co.uk", "ada.lovelace+shop@example.co.uk"),
    (choice(("standard", "vip")), "VIP", "vip"),
    (boolean, "Yes", True), (boolean, "0", False), (boolean, "n", False),
    (amount, "12.50", 12.5), (amount, "0", 0.0), (amount, "9999999999.99", 9999999999.99),
    (quantity, "1", 1), (quantity, "10000", 10000),
    (iso_date, "2024-05-01", date(2024, 5, 1)),
    (iso_datetime, "2024-05-01T14:30:00Z", datetime(2024, 5, 1, 14, 30)),
    (iso_datetime, "2024-05-01T16:30:00+02:00", datetime(2024, 5, 1, 14, 30)),
    (iso_datetime, "2024-05-01 14:30", datetime(2024, 5, 1, 14, 30)),
])
def test_parsers_accept_good_cells(parse: Callable[[str], Any], raw: str, expected: Any) -> None:
    assert parse(raw) == expected


@pytest.mark.parametrize("parse, raw, message", [
    (text(5), "hello!", "is longer than 5 characters (6)"),
    (text(50), "bell\x07", "contains control characters"),
    (pattern(re.compile(r"^RP-\d{6}$"), "an order number"), "RP-1", "'RP-1' is not an order number"),
    (email, "ada@", "'ada@' is not a valid e-mail address"),
    (email, "ada@localhost", "'ada@localhost' is not a valid e-mail address"),
    (email, "a" * 250 + "@x.io", "is not a valid e-mail address"),
    (choice(("standard", "vip")), "gold", "'gold' is not one of standard, vip"),
    (boolean, "maybe", "'maybe' is not true or false"),
    (amount, "12,50", "'12,50' is not an amount like 12.50"),
    (amount, "-1", "'-1' is not an amount between 0 and 9999999999.99"),
    (amount, "NaN", "'NaN' is not an amount between 0 and 9999999999.99"),
    (amount, "1e10", "'1e10' is not an amount between 0 and 9999999999.99"),
    (amount, "1.005", "'1.005' has more than two decimals"),
    (quantity, "0", "'0' is not a whole number from 1 to 10000"),
    (quantity, "10001", "'10001' is not a whole number from 1 to 10000"),
    (quantity, "2.5", "'2.5' is not a whole number from 1 to 10000"),
    (iso_date, "01/05/2024", "'01/05/2024' is not a date YYYY-MM-DD"),
    (iso_datetime, "yesterday", "'yesterday' is not a date-time like 2024-05-01T14:30:00"),
])
def test_parsers_refuse_bad_cells(parse: Callable[[str], Any], raw: str, message: str) -> None:
    with pytest.raises(BadCell) as caught:
        parse(raw)
    assert str(caught.value).endswith(message)


def test_show_makes_a_bad_value_short_and_printable() -> None:
    assert show("ok") == "'ok'"
    assert show("a\x00b") == "'a?b'"
    assert show("x" * 41) == repr("x" * 37 + "...")
    assert show("x" * 40) == repr("x" * 40)
