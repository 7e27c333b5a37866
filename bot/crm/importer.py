"""Load a shop's customers, products and orders from CSV exports into the CRM.

`import_csv(engine, customers=..., products=..., orders=...)` (or `rapport crm import`)
checks every row of every file first and reports all problems as `file:line: what`; if
there is any, nothing is imported. Otherwise everything goes in in one transaction.

Files are UTF-8 (a BOM is fine), comma-separated, with a header row naming the columns in
any order (names are case-insensitive; unknown columns are ignored). Empty optional cells
take the default. Dates are `YYYY-MM-DD`; date-times ISO 8601 (`2024-05-01T14:30:00`,
`2024-05-01 14:30`, with or without an offset; without one they are UTC). Amounts use a
dot (`1299.50`), at most two decimals. Keys must be new: an id, SKU or order number that is
already in the CRM, or twice in a file, is a duplicate.

customers.csv — id, name, email required; phone, postcode, tier (standard|vip, default
standard), consent_marketing (true/false, default false), consent_data_processing
(default true), created_at (default now) optional. `id` is the shop's customer id
(letters, digits, `.`, `_`, `-`, `:`; at most 32 characters).

products.csv — sku, name, category, price, all required.

orders.csv — one row per order line; the rows of one order repeat the order's columns,
which must agree. Required: number (RP-123456), customer_id (in customers.csv or the CRM),
status (placed|packed|shipped|delivered|lost|returned|cancelled), placed_at, email,
postcode, sku (in products.csv or the CRM), quantity (a whole number ≥ 1). Optional:
currency (3 letters, default EUR), carrier, shipped_at, promised_date, delivered_at,
unit_price (default: the product's price), total (default: the sum of the lines).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.crm.database import make_session_factory
from bot.crm.interface import CrmUnavailable
from bot.crm.models import CustomerRow, OrderLineRow, OrderRow, ProductRow
from bot.crm.validation import ORDER_NUMBER_RE, ORDER_STATUSES, TIERS, naive_utc, utcnow

PathLike = Union[str, Path]

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$")
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}
ORDER_COLUMNS = ("customer_id", "status", "placed_at", "currency", "carrier", "shipped_at",
                 "promised_date", "delivered_at", "email", "postcode", "total")


class CsvImportError(ValueError):
    """Some rows are bad; `problems` lists each as "file:line: what is wrong"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the CSV files; nothing was imported")


@dataclass(frozen=True)
class ImportSummary:
    customers: int = 0
    products: int = 0
    orders: int = 0
    order_lines: int = 0


class _Bad(ValueError):
    pass


@dataclass
class _Row:
    file: str
    line: int
    cells: dict[str, str]


@dataclass
class _Order:
    first: _Row
    values: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)


def import_csv(
    engine: Engine, customers: Optional[PathLike] = None, products: Optional[PathLike] = None,
    orders: Optional[PathLike] = None,
) -> ImportSummary:
    """Validate all files, then import all rows in one transaction (or none: `CsvImportError`)."""
    problems: list[str] = []
    customer_rows = _read(customers, ("id", "name", "email"), problems)
    product_rows = _read(products, ("sku", "name", "category", "price"), problems)
    order_rows = _read(orders, ("number", "customer_id", "status", "placed_at", "email",
                                "postcode", "sku", "quantity"), problems)
    sessions = make_session_factory(engine)
    try:
        with sessions.begin() as session:
            existing = _Existing(session, customer_rows, product_rows, order_rows)
            new_customers = _customers(customer_rows, existing, problems)
            new_products = _products(product_rows, existing, problems)
            catalogue = {**existing.product_prices,
                         **{p.sku: (p.name, float(p.price)) for p in new_products}}
            known_customers = existing.customer_ids | {c.id for c in new_customers}
            new_orders = _orders(order_rows, existing, known_customers, catalogue, problems)
            if problems:
                raise CsvImportError(problems)
            session.add_all(new_customers)
            session.add_all(new_products)
            session.flush()
            session.add_all(new_orders)
    except IntegrityError as error:
        raise CsvImportError(
            [f"the CRM changed while importing ({type(error).__name__}); run the import again"]
        ) from error
    except SQLAlchemyError as error:
        raise CrmUnavailable(f"CRM database error ({type(error).__name__})") from error
    return ImportSummary(
        customers=len(new_customers), products=len(new_products), orders=len(new_orders),
        order_lines=sum(len(order.lines) for order in new_orders),
    )


# -- reading ----------------------------------------------------------------------------


def _read(path: Optional[PathLike], required: tuple[str, ...], problems: list[str]) -> list[_Row]:
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
            rows.append(_Row(name, line, {
                column: cell.strip() for column, cell in zip(header, cells) if column
            }))
    except csv.Error as error:
        problems.append(f"{name}:{reader.line_num}: unreadable CSV ({error}); stopped here")
    return rows


class _Existing:
    """The keys from the files that the CRM already holds, and the catalogue it has."""

    def __init__(self, session: Any, customers: list[_Row], products: list[_Row],
                 orders: list[_Row]) -> None:
        ids = {row.cells.get("id", "") for row in customers} | {
            row.cells.get("customer_id", "") for row in orders}
        skus = {row.cells.get("sku", "") for row in products} | {
            row.cells.get("sku", "") for row in orders}
        numbers = {row.cells.get("number", "").upper() for row in orders}
        self.customer_ids = set(_in(session, CustomerRow.id, ids))
        self.order_numbers = set(_in(session, OrderRow.number, numbers))
        self.product_prices: dict[str, tuple[str, float]] = {}
        for chunk in _chunks(sorted(skus)):
            query = select(ProductRow.sku, ProductRow.name, ProductRow.price)
            for sku, name, price in session.execute(query.where(ProductRow.sku.in_(chunk))):
                self.product_prices[sku] = (name, float(price))


def _in(session: Any, column: Any, values: Iterable[str]) -> list[str]:
    found: list[str] = []
    for chunk in _chunks(sorted(value for value in values if value)):
        found.extend(session.scalars(select(column).where(column.in_(chunk))))
    return found


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for index in range(0, len(values), size):
        yield values[index:index + size]


# -- checking cells ---------------------------------------------------------------------


def _check(row: _Row, problems: list[str], column: str, parse: Callable[[str], Any],
           *, required: bool = True, default: Any = None) -> Any:
    raw = row.cells.get(column, "")
    if not raw:
        if required:
            problems.append(f"{row.file}:{row.line}: {column} is empty")
        return default
    try:
        return parse(raw)
    except _Bad as error:
        problems.append(f"{row.file}:{row.line}: {column} {error}")
        return default


def _text(max_chars: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if _CONTROL.search(raw):
            raise _Bad("contains control characters")
        if len(raw) > max_chars:
            raise _Bad(f"is longer than {max_chars} characters ({len(raw)})")
        return raw
    return parse


def _pattern(regex: re.Pattern[str], what: str, transform: Callable[[str], str] = str
             ) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = transform(raw)
        if not regex.match(value):
            raise _Bad(f"{_show(raw)} is not {what}")
        return value
    return parse


def _email(raw: str) -> str:
    if len(raw) > 254 or not EMAIL_RE.match(raw):
        raise _Bad(f"{_show(raw)} is not a valid e-mail address")
    return raw.lower()


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise _Bad(f"{_show(raw)} is not one of {', '.join(choices)}")
        return raw.lower()
    return parse


def _bool(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise _Bad(f"{_show(raw)} is not true or false")


def _amount(raw: str) -> float:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _Bad(f"{_show(raw)} is not an amount like 12.50") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
        raise _Bad(f"{_show(raw)} is not an amount between 0 and 9999999999.99")
    if value != value.quantize(Decimal("0.01")):
        raise _Bad(f"{_show(raw)} has more than two decimals")
    return float(value)


def _quantity(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise _Bad(f"{_show(raw)} is not a whole number from 1 to 10000")
    return int(raw)


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _Bad(f"{_show(raw)} is not a date YYYY-MM-DD") from None


def _datetime(raw: str) -> datetime:
    text = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        return naive_utc(datetime.fromisoformat(text))
    except ValueError:
        raise _Bad(f"{_show(raw)} is not a date-time like 2024-05-01T14:30:00") from None


def _show(raw: str) -> str:
    """A bad value, shortened and made printable, for the problem report."""
    text = _CONTROL.sub("?", raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# -- the three files --------------------------------------------------------------------


def _customers(rows: list[_Row], existing: _Existing, problems: list[str]) -> list[CustomerRow]:
    result, seen = [], {}
    for row in rows:
        before = len(problems)
        cid = _check(row, problems, "id", _pattern(ID_RE, "a customer id (at most 32 "
                                                          "letters, digits, . _ - :)"))
        values = {
            "name": _check(row, problems, "name", _text(200)),
            "email": _check(row, problems, "email", _email),
            "phone": _check(row, problems, "phone", _text(32), required=False),
            "postcode": _check(row, problems, "postcode", _text(16), required=False),
            "tier": _check(row, problems, "tier", _choice(TIERS), required=False,
                           default="standard"),
            "consent_marketing": _check(row, problems, "consent_marketing", _bool,
                                        required=False, default=False),
            "consent_data_processing": _check(row, problems, "consent_data_processing", _bool,
                                              required=False, default=True),
            "created_at": _check(row, problems, "created_at", _datetime, required=False)
            or utcnow(),
        }
        if cid is not None:
            if cid in seen:
                problems.append(f"{row.file}:{row.line}: duplicate customer id {cid!r} "
                                f"(also on line {seen[cid]})")
            elif cid in existing.customer_ids:
                problems.append(f"{row.file}:{row.line}: customer id {cid!r} is already in the CRM")
            seen.setdefault(cid, row.line)
        if len(problems) == before:
            result.append(CustomerRow(id=cid, **values))
    return result


def _products(rows: list[_Row], existing: _Existing, problems: list[str]) -> list[ProductRow]:
    result, seen = [], {}
    for row in rows:
        before = len(problems)
        sku = _check(row, problems, "sku", _pattern(SKU_RE, "a SKU (at most 32 characters)"))
        values = {
            "name": _check(row, problems, "name", _text(200)),
            "category": _check(row, problems, "category", _text(64)),
            "price": _check(row, problems, "price", _amount),
        }
        if sku is not None:
            if sku in seen:
                problems.append(f"{row.file}:{row.line}: duplicate sku {sku!r} "
                                f"(also on line {seen[sku]})")
            elif sku in existing.product_prices:
                problems.append(f"{row.file}:{row.line}: sku {sku!r} is already in the CRM")
            seen.setdefault(sku, row.line)
        if len(problems) == before:
            result.append(ProductRow(sku=sku, **values))
    return result


def _orders(
    rows: list[_Row], existing: _Existing, customers: set[str],
    catalogue: dict[str, tuple[str, float]], problems: list[str],
) -> list[OrderRow]:
    orders: dict[str, _Order] = {}
    bad: set[str] = set()
    for row in rows:
        before = len(problems)
        number = _check(row, problems, "number",
                        _pattern(ORDER_NUMBER_RE, "an order number like RP-123456", str.upper))
        values = _order_values(row, problems)
        if values["customer_id"] and values["customer_id"] not in customers:
            problems.append(f"{row.file}:{row.line}: unknown customer_id "
                            f"{_show(values['customer_id'])}")
        sku = _check(row, problems, "sku", _text(32))
        if sku and sku not in catalogue:
            problems.append(f"{row.file}:{row.line}: unknown sku {_show(sku)}")
        quantity = _check(row, problems, "quantity", _quantity)
        unit_price = _check(row, problems, "unit_price", _amount, required=False)
        if number is None:
            continue
        if number in existing.order_numbers:
            problems.append(f"{row.file}:{row.line}: order {number} is already in the CRM")
        order = orders.get(number)
        if order is None:
            order = orders[number] = _Order(row, values)
        else:
            differ = [c for c in ORDER_COLUMNS if order.values[c] != values[c]]
            if differ:
                problems.append(
                    f"{row.file}:{row.line}: order {number} has {', '.join(differ)} different "
                    f"from line {order.first.line}"
                )
        if any(line["sku"] == sku for line in order.lines):
            problems.append(f"{row.file}:{row.line}: duplicate line for sku {_show(sku or '')} "
                            f"in order {number}")
        if len(problems) > before:
            bad.add(number)
            continue
        name, price = catalogue[sku]
        order.lines.append({"sku": sku, "product_name": name, "quantity": quantity,
                            "unit_price": unit_price if unit_price is not None else price})
    result = []
    for number, order in orders.items():
        if number in bad:
            continue
        values = dict(order.values)
        lines_total = round(sum(l["quantity"] * l["unit_price"] for l in order.lines), 2)
        values["total"] = values["total"] if values["total"] is not None else lines_total
        result.append(OrderRow(number=number, **values, lines=[
            OrderLineRow(position=position, **line)
            for position, line in enumerate(order.lines, start=1)
        ]))
    return result


def _order_values(row: _Row, problems: list[str]) -> dict[str, Any]:
    values = {
        "customer_id": _check(row, problems, "customer_id", _text(32)),
        "status": _check(row, problems, "status", _choice(ORDER_STATUSES)),
        "placed_at": _check(row, problems, "placed_at", _datetime),
        "currency": _check(row, problems, "currency", _pattern(CURRENCY_RE, "a currency code "
                           "like EUR", str.upper), required=False, default="EUR"),
        "carrier": _check(row, problems, "carrier", _text(32), required=False),
        "shipped_at": _check(row, problems, "shipped_at", _datetime, required=False),
        "promised_date": _check(row, problems, "promised_date", _date, required=False),
        "delivered_at": _check(row, problems, "delivered_at", _datetime, required=False),
        "email": _check(row, problems, "email", _email),
        "postcode": _check(row, problems, "postcode", _text(16)),
        "total": _check(row, problems, "total", _amount, required=False),
    }
    placed, shipped, delivered = values["placed_at"], values["shipped_at"], values["delivered_at"]
    if placed and shipped and shipped < placed:
        problems.append(f"{row.file}:{row.line}: shipped_at is before placed_at")
    if (shipped or placed) and delivered and delivered < (shipped or placed):
        problems.append(f"{row.file}:{row.line}: delivered_at is before it was shipped")
    return values
