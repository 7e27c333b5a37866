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

import re
from dataclasses import dataclass, field
from typing import Any, Container, Iterable, Optional


from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.crm import csv_format as csvfmt
from bot.crm.csv_format import PathLike, Row, check
from bot.crm.interface import CrmUnavailable
from bot.crm.models import CustomerRow, OrderLineRow, OrderRow, ProductRow
from bot.crm.validation import ORDER_NUMBER_RE, ORDER_STATUSES, TIERS
from bot.database import make_session_factory, naive_utcnow

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$")
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
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


@dataclass
class _Order:
    first: Row
    values: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)


def import_csv(
    engine: Engine, customers: Optional[PathLike] = None, products: Optional[PathLike] = None,
    orders: Optional[PathLike] = None,
) -> ImportSummary:
    """Validate all files, then import all rows in one transaction (or none: `CsvImportError`)."""
    problems: list[str] = []
    customer_rows = csvfmt.read_rows(customers, ("id", "name", "email"), problems)
    product_rows = csvfmt.read_rows(products, ("sku", "name", "category", "price"), problems)
    order_rows = csvfmt.read_rows(orders, ("number", "customer_id", "status", "placed_at", "email",
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


class _Existing:
    """The keys from the files that the CRM already holds, and the catalogue it has."""

    def __init__(self, session: Any, customers: list[Row], products: list[Row],
                 orders: list[Row]) -> None:
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


# -- the three files --------------------------------------------------------------------


def _customers(rows: list[Row], existing: _Existing, problems: list[str]) -> list[CustomerRow]:
    result, seen = [], {}
    for row in rows:
        before = len(problems)
        cid = check(row, problems, "id", csvfmt.pattern(ID_RE, "a customer id (at most 32 "
                                                          "letters, digits, . _ - :)"))
        values = {
            "name": check(row, problems, "name", csvfmt.text(200)),
            "email": check(row, problems, "email", csvfmt.email),
            "phone": check(row, problems, "phone", csvfmt.text(32), required=False),
            "postcode": check(row, problems, "postcode", csvfmt.text(16), required=False),
            "tier": check(row, problems, "tier", csvfmt.choice(TIERS), required=False,
                           default="standard"),
            "consent_marketing": check(row, problems, "consent_marketing", csvfmt.boolean,
                                        required=False, default=False),
            "consent_data_processing": check(row, problems, "consent_data_processing",
                                             csvfmt.boolean,
                                              required=False, default=True),
            "created_at": check(row, problems, "created_at", csvfmt.iso_datetime, required=False)
            or naive_utcnow(),
        }
        _check_new_key(row, problems, "customer id", cid, seen, existing.customer_ids)
        if len(problems) == before:
            result.append(CustomerRow(id=cid, **values))
    return result


def _products(rows: list[Row], existing: _Existing, problems: list[str]) -> list[ProductRow]:
    result, seen = [], {}
    for row in rows:
        before = len(problems)
        sku = check(row, problems, "sku", csvfmt.pattern(SKU_RE, "a SKU (at most 32 characters)"))
        values = {
            "name": check(row, problems, "name", csvfmt.text(200)),
            "category": check(row, problems, "category", csvfmt.text(64)),
            "price": check(row, problems, "price", csvfmt.amount),
        }
        _check_new_key(row, problems, "sku", sku, seen, existing.product_prices)
        if len(problems) == before:
            result.append(ProductRow(sku=sku, **values))
    return result


def _check_new_key(row: Row, problems: list[str], what: str, key: Optional[str],
                   seen: dict[str, int], in_crm: Container[str]) -> None:
    """Keys must be new: a key seen earlier in the file, or already in the CRM, is a problem."""
    if key is None:
        return
    if key in seen:
        problems.append(f"{row.file}:{row.line}: duplicate {what} {key!r} "
                        f"(also on line {seen[key]})")
    elif key in in_crm:
        problems.append(f"{row.file}:{row.line}: {what} {key!r} is already in the CRM")
    seen.setdefault(key, row.line)


def _orders(
    rows: list[Row], existing: _Existing, customers: set[str],
    catalogue: dict[str, tuple[str, float]], problems: list[str],
) -> list[OrderRow]:
    orders: dict[str, _Order] = {}
    bad: set[str] = set()
    for row in rows:
        before = len(problems)
        number = check(row, problems, "number", csvfmt.pattern(
            ORDER_NUMBER_RE, "an order number like RP-123456", str.upper))
        values = _order_values(row, problems)
        if values["customer_id"] and values["customer_id"] not in customers:
            problems.append(f"{row.file}:{row.line}: unknown customer_id "
                            f"{csvfmt.show(values['customer_id'])}")
        sku = check(row, problems, "sku", csvfmt.text(32))
        if sku and sku not in catalogue:
            problems.append(f"{row.file}:{row.line}: unknown sku {csvfmt.show(sku)}")
        quantity = check(row, problems, "quantity", csvfmt.quantity)
        unit_price = check(row, problems, "unit_price", csvfmt.amount, required=False)
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
            problems.append(f"{row.file}:{row.line}: duplicate line for sku "
                            f"{csvfmt.show(sku or '')} in order {number}")
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
        lines_total = round(sum(line["quantity"] * line["unit_price"] for line in order.lines), 2)
        values["total"] = values["total"] if values["total"] is not None else lines_total
        result.append(OrderRow(number=number, **values, lines=[
            OrderLineRow(position=position, **line)
            for position, line in enumerate(order.lines, start=1)
        ]))
    return result


def _order_values(row: Row, problems: list[str]) -> dict[str, Any]:
    values = {
        "customer_id": check(row, problems, "customer_id", csvfmt.text(32)),
        "status": check(row, problems, "status", csvfmt.choice(ORDER_STATUSES)),
        "placed_at": check(row, problems, "placed_at", csvfmt.iso_datetime),
        "currency": check(row, problems, "currency", csvfmt.pattern(CURRENCY_RE, "a currency code "
                           "like EUR", str.upper), required=False, default="EUR"),
        "carrier": check(row, problems, "carrier", csvfmt.text(32), required=False),
        "shipped_at": check(row, problems, "shipped_at", csvfmt.iso_datetime, required=False),
        "promised_date": check(row, problems, "promised_date", csvfmt.iso_date, required=False),
        "delivered_at": check(row, problems, "delivered_at", csvfmt.iso_datetime, required=False),
        "email": check(row, problems, "email", csvfmt.email),
        "postcode": check(row, problems, "postcode", csvfmt.text(16)),
        "total": check(row, problems, "total", csvfmt.amount, required=False),
    }
    placed, shipped, delivered = values["placed_at"], values["shipped_at"], values["delivered_at"]
    if placed and shipped and shipped < placed:
        problems.append(f"{row.file}:{row.line}: shipped_at is before placed_at")
    if (shipped or placed) and delivered and delivered < (shipped or placed):
        problems.append(f"{row.file}:{row.line}: delivered_at is before it was shipped")
    return values
