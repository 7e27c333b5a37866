"""Reading a shop's CSV export and checking its cells, for `bot.crm.importer`.

`read_rows` turns a file into rows that remember their file name and line number;
`check(row, problems, column, parser)` parses one cell, adding "file:line: column ..." to
`problems` instead of raising, so that every bad cell of every file is reported at once.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Optional, Union

from bot.crm.validation import naive_utc

PathLike = Union[str, Path]

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


class BadCell(ValueError):
    """A cell that does not parse; the message completes "column ..."."""


@dataclass
class Row:
    file: str
    line: int
    cells: dict[str, str]


def read_rows(
    path: Optional[PathLike], required: tuple[str, ...], problems: list[str]
) -> list[Row]:
    """The data rows of a CSV file; unreadable files, bad headers and rows go to `problems`."""
    if path is None:
        return []
    name = Path(path).name
    try:
        raw = Path(path).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as error:
        problems.append(f"{name}: cannot read the file ({error.strerror or error})")
        return []
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        problems.append(f"{name}:{line}: not UTF-8 text")
        return []
    for number, line in enumerate(text.splitlines(), start=1):
        if "\x00" in line:
            problems.append(f"{name}:{number}: contains a NUL byte")
    reader = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        problems.append(f"{name}: empty file (expected a header row)")
        return []
    except csv.Error as error:
        problems.append(f"{name}:1: unreadable header ({error})")
        return []
    duplicated = sorted({column for column in header if column and header.count(column) > 1})
    missing = [column for column in required if column not in header]
    if duplicated:
        problems.append(f"{name}:1: column(s) {', '.join(duplicated)} appear more than once")
    if missing:
        problems.append(f"{name}:1: missing column(s) {', '.join(missing)}")
    if missing or duplicated:
        return []
    rows, start = [], reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                problems.append(
                    f"{name}:{line}: expected {len(header)} fields, found {len(cells)}"
                )
                continue
            rows.append(Row(name, line, {
                column: cell.strip() for column, cell in zip(header, cells) if column
            }))
    except csv.Error as error:
        problems.append(f"{name}:{reader.line_num}: unreadable CSV ({error}); stopped here")
    return rows


def check(row: Row, problems: list[str], column: str, parse: Callable[[str], Any],
          *, required: bool = True, default: Any = None) -> Any:
    """The parsed cell, or `default` (an empty optional cell, or a problem recorded)."""
    raw = row.cells.get(column, "")
    if not raw:
        if required:
            problems.append(f"{row.file}:{row.line}: {column} is empty")
        return default
    try:
        return parse(raw)
    except BadCell as error:
        problems.append(f"{row.file}:{row.line}: {column} {error}")
        return default


def text(max_chars: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if _CONTROL.search(raw):
            raise BadCell("contains control characters")
        if len(raw) > max_chars:
            raise BadCell(f"is longer than {max_chars} characters ({len(raw)})")
        return raw
    return parse


def pattern(regex: re.Pattern[str], what: str, transform: Callable[[str], str] = str
            ) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = transform(raw)
        if not regex.match(value):
            raise BadCell(f"{show(raw)} is not {what}")
        return value
    return parse


def email(raw: str) -> str:
    if len(raw) > 254 or not EMAIL_RE.match(raw):
        raise BadCell(f"{show(raw)} is not a valid e-mail address")
    return raw.lower()


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise BadCell(f"{show(raw)} is not one of {', '.join(choices)}")
        return raw.lower()
    return parse


def boolean(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadCell(f"{show(raw)} is not true or false")


def amount(raw: str) -> float:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadCell(f"{show(raw)} is not an amount like 12.50") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
        raise BadCell(f"{show(raw)} is not an amount between 0 and 9999999999.99")
    if value != value.quantize(Decimal("0.01")):
        raise BadCell(f"{show(raw)} has more than two decimals")
    return float(value)


def quantity(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise BadCell(f"{show(raw)} is not a whole number from 1 to 10000")
    return int(raw)


def iso_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadCell(f"{show(raw)} is not a date YYYY-MM-DD") from None


def iso_datetime(raw: str) -> datetime:
    text = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        return naive_utc(datetime.fromisoformat(text))
    except ValueError:
        raise BadCell(f"{show(raw)} is not a date-time like 2024-05-01T14:30:00") from None


def show(raw: str) -> str:
    """A bad value, shortened and made printable, for the problem report."""
    text = _CONTROL.sub("?", raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")


