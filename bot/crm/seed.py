"""A realistic, reproducible demo CRM: `rapport crm seed` fills an empty database.

`seed_demo(engine, brand, customers=300, seed=42, today=None)` writes the brand's catalogue,
hundreds of customers (about 4% VIP) at example.com/example.org with EU postcodes, about two
orders each from the catalogue with DPD, PostNL or DHL, statuses spread as in a real shop
(some late, lost, returned, cancelled; fragile goods delivered), and previous complaints for
some customers. The same seed and `today` give the same data; dates are relative to `today`.
It refuses to run on a CRM that already holds customers or orders unless `reset=True`
(`--force`), which deletes every CRM row first.

Well-known demo records (docs, stories and tests rely on them; "d-3" = 3 days before `today`):

Customers (id, e-mail, postcode):
- Ada Lovelace: C-000000000001, ada@example.com, 1012 AB (standard)
- Grace Hopper: C-000000000002, grace@example.org, 10115 (VIP)
- Alan Turing: C-000000000003, alan@example.com, 75001; 2 closed complaints in the last 90 days
- Katherine Johnson: C-000000000004, katherine@example.org, 1000

Orders (the order's e-mail and postcode are its customer's):
- RP-100001 (Ada): shipped by DPD on d-1, promised d+1: on time; EUR 78.95
- RP-100002 (Ada): late: PostNL, promised d-3, still shipped (in transit); EUR 119.00
- RP-100003 (Ada): delivered by DHL on d-8; saucepan set and knife block, EUR 418.00: for
  damaged, wrong or missing item complaints
- RP-100004 (Grace, VIP): delivered by DPD on d-4; espresso machine, EUR 449.00
- RP-100005 (Alan): lost: DHL shipped d-18, promised d-15; wool rug, EUR 349.00
- RP-100006 (Katherine): delivered by PostNL on d-3; walnut bookshelf, EUR 899.00

Other orders get random, non-sequential numbers (RP-200000 to RP-999999, drawn from the seed):
with sequential numbers, knowing one order number (or an e-mail address) would tell a guesser
which numbers to try next. The six above stay well-known for demos and tests.
"""

from __future__ import annotations

import json
import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from bot.brand import Brand, Product
from bot.database import make_session_factory
from bot.crm.models import (
    CaseRow, CustomerRow, InteractionRow, OfferRow, OrderLineRow, OrderRow, ProductRow, metadata,
)

CARRIERS = ("DPD", "PostNL", "DHL")
FRAGILE = ("tableware", "lighting", "appliances")

FIRST_NAMES = (
    "Emma", "Noah", "Sophie", "Lucas", "Julia", "Daan", "Lotte", "Sem", "Anna", "Finn",
    "Marie", "Jonas", "Léa", "Hugo", "Chloé", "Louis", "Lena", "Felix", "Mia", "Paul",
    "Eva", "Milan", "Sara", "Thomas", "Nina", "Lars", "Inès", "Mateo", "Zoë", "Jan",
    "Clara", "Elias", "Fleur", "Bram", "Ida", "Tim", "Amélie", "Ruben", "Hanna", "Luca",
)
LAST_NAMES = (
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Peeters",
    "Maes", "Janssens", "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner",
    "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "García", "Fernández",
    "Rossi", "Bianchi", "Nowak", "Kowalski", "Novák", "Andersen", "Nielsen", "Hansen",
    "O'Brien", "Murphy", "Gruber", "Huber", "Silva", "Santos", "van Dijk",
)
# country → (postcode pattern, phone prefix, weight): "9" a digit, "A" a capital letter
COUNTRIES = {
    "NL": ("9999 AA", "+31 6", 40), "BE": ("9999", "+32 4", 15), "DE": ("99999", "+49 15", 20),
    "FR": ("99999", "+33 6", 12), "AT": ("9999", "+43 66", 5), "ES": ("99999", "+34 6", 8),
}
COMPLAINTS = {  # category → (severity, description)
    "late_delivery": ("medium", "My order is late and tracking has not moved for days."),
    "damaged": ("high", "It arrived damaged: the box was crushed and the item is broken."),
    "wrong_item": ("medium", "I received the wrong item."),
    "missing_item": ("medium", "One item is missing from the parcel."),
    "poor_quality": ("low", "It stopped working after a few weeks."),
    "billing_error": ("medium", "I was charged twice for this order."),
}


class SeedError(RuntimeError):
    """The demo data cannot be written as asked."""


@dataclass(frozen=True)
class SeedSummary:
    products: int
    customers: int
    orders: int
    order_lines: int
    cases: int
    interactions: int


@dataclass(frozen=True)
class _DemoOrder:
    number: str
    customer: int  # index into _DEMO_CUSTOMERS
    status: str
    carrier: str
    skus: tuple[tuple[str, int], ...]
    placed: int  # days before today
    shipped: Optional[int]
    promised: int  # days relative to today (negative: in the past)
    delivered: Optional[int]


_DEMO_CUSTOMERS = (  # id, name, e-mail, postcode, phone, tier
    ("C-000000000001", "Ada Lovelace", "ada@example.com", "1012 AB", "+31 6 1234 5678",
     "standard"),
    ("C-000000000002", "Grace Hopper", "grace@example.org", "10115", "+49 151 2345 6789", "vip"),
    ("C-000000000003", "Alan Turing", "alan@example.com", "75001", "+33 6 12 34 56 78",
     "standard"),
    ("C-000000000004", "Katherine Johnson", "katherine@example.org", "1000", None, "standard"),
)
_DEMO_ORDERS = (
    _DemoOrder("RP-100001", 0, "shipped", "DPD", (("LO-0001", 1), ("LO-0026", 2)), 2, 1, 1, None),
    _DemoOrder("RP-100002", 0, "shipped", "PostNL", (("LO-0004", 1),), 8, 6, -3, None),
    _DemoOrder("RP-100003", 0, "delivered", "DHL", (("LO-0002", 1), ("LO-0009", 1)),
               12, 10, -8, 8),
    _DemoOrder("RP-100004", 1, "delivered", "DPD", (("LO-0019", 1),), 7, 6, -4, 4),
    _DemoOrder("RP-100005", 2, "lost", "DHL", (("LO-0031", 1),), 20, 18, -15, None),
    _DemoOrder("RP-100006", 3, "delivered", "PostNL", (("LO-0029", 1),), 9, 6, -3, 3),
)


def seed_demo(
    engine: Engine, brand: Brand, *, customers: int = 300, seed: int = 42,
    today: Optional[date] = None, reset: bool = False,
) -> SeedSummary:
    """Write the demo CRM in one transaction; `reset` deletes all CRM rows first."""
    if customers < len(_DEMO_CUSTOMERS):
        raise SeedError(f"--customers must be at least {len(_DEMO_CUSTOMERS)}")
    catalogue = {product.sku: product for product in brand.products}
    missing = sorted({sku for order in _DEMO_ORDERS for sku, _ in order.skus} - set(catalogue))
    if missing:
        raise SeedError(f"the demo orders need catalogue products {', '.join(missing)}")
    builder = _Builder(random.Random(seed), today or date.today(), catalogue, brand)
    builder.build(customers)
    with make_session_factory(engine).begin() as session:
        existing = sum(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (CustomerRow.__table__, OrderRow.__table__)
        )
        if existing and not reset:
            raise SeedError(
                "the CRM already holds customers or orders; use --force to delete them and reseed"
            )
        if reset:
            for table in reversed(metadata.sorted_tables):
                session.execute(delete(table))
        session.add_all(builder.products)
        session.flush()
        session.add_all(builder.customers)
        session.flush()
        session.add_all(builder.orders)
        session.flush()
        session.add_all(builder.cases)
        session.add_all(builder.offers)
        session.add_all(builder.interactions)
    return SeedSummary(
        products=len(builder.products), customers=len(builder.customers),
        orders=len(builder.orders), order_lines=sum(len(o.lines) for o in builder.orders),
        cases=len(builder.cases), interactions=len(builder.interactions),
    )


class _Builder:
    """Makes the rows in memory, drawing every random choice from one seeded generator."""

    def __init__(
        self, rng: random.Random, today: date, catalogue: dict[str, Product], brand: Brand
    ) -> None:
        self.rng, self.today, self.catalogue = rng, today, catalogue
        self.noon = datetime.combine(today, time(12, 0))
        shipping = brand.profile.get("shipping", {}).get("standard", {})
        self.shipping_cost = float(shipping.get("cost", 0))
        self.free_over = float(shipping.get("free_over", 0))
        self.currency = str(brand.profile.get("currency", "EUR"))
        self.products = [
            ProductRow(sku=p.sku, name=p.name, category=p.category, price=p.price)
            for p in catalogue.values()
        ]
        self.customers: list[CustomerRow] = []
        self.orders: list[OrderRow] = []
        self.cases: list[CaseRow] = []
        self.offers: list[OfferRow] = []
        self.interactions: list[InteractionRow] = []

    def at(self, days_ago: float, hour: Optional[int] = None) -> datetime:
        moment = self.noon - timedelta(days=days_ago)
        if hour is None:
            hour = self.rng.randint(7, 11) if days_ago < 1 else self.rng.randint(8, 21)
        return moment.replace(hour=hour, minute=self.rng.randint(0, 59),
                              second=self.rng.randint(0, 59), microsecond=0)

    def id(self, prefix: str) -> str:
        return f"{prefix}-{self.rng.getrandbits(48):012x}"

    def build(self, count: int) -> None:
        self._demo()
        drafts: list[tuple[CustomerRow, OrderRow]] = []
        for index in range(count - len(_DEMO_CUSTOMERS)):
            customer = self._customer(index)
            self.customers.append(customer)
            age = (self.noon - customer.created_at).days
            for _ in range(self.rng.choices((1, 2, 3), weights=(30, 40, 30))[0]):
                drafts.append((customer, self._order(customer, self.rng.randint(0, min(age, 400)))))
        drafts.sort(key=lambda pair: (pair[1].placed_at, pair[0].id))
        numbers = self.rng.sample(range(200_000, 1_000_000), len(drafts))
        for number, (customer, order) in zip(numbers, drafts):
            order.number = f"RP-{number}"
            self.orders.append(order)
            if self.rng.random() < 0.07:
                self._past_complaint(customer, order)

    def _demo(self) -> None:
        for cid, name, email, postcode, phone, tier in _DEMO_CUSTOMERS:
            self.customers.append(CustomerRow(
                id=cid, name=name, email=email, phone=phone, postcode=postcode, tier=tier,
                consent_marketing=cid == "C-000000000001", consent_data_processing=True,
                created_at=self.at(400, 10),
            ))
        for demo in _DEMO_ORDERS:
            customer = self.customers[demo.customer]
            lines = [(self.catalogue[sku], quantity) for sku, quantity in demo.skus]
            order = self._order_row(customer, lines, demo.status, demo.carrier,
                                    self.at(demo.placed, 10))
            order.number = demo.number
            order.shipped_at = self.at(demo.shipped, 15) if demo.shipped is not None else None
            order.promised_date = self.today + timedelta(days=demo.promised)
            order.delivered_at = (
                self.at(demo.delivered, 11) if demo.delivered is not None else None
            )
            self.orders.append(order)
        alan = self.customers[2]
        for days, category in ((70, "late_delivery"), (25, "damaged")):
            self._case(alan, None, category, self.at(days), "closed")

    def _customer(self, index: int) -> CustomerRow:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        country = self.rng.choices(list(COUNTRIES), weights=[c[2] for c in COUNTRIES.values()])[0]
        pattern, phone_prefix, _ = COUNTRIES[country]
        local = _ascii(f"{first}.{last}").replace(" ", "").replace("'", "").lower()
        domain = self.rng.choice(("example.com", "example.org"))
        phone = None
        if self.rng.random() < 0.8:
            phone = f"{phone_prefix} {self.rng.randint(1000, 9999)} {self.rng.randint(1000, 9999)}"
        return CustomerRow(
            id=self.id("C"), name=f"{first} {last}", email=f"{local}{index + 1}@{domain}",
            phone=phone, postcode=self._postcode(pattern),
            tier="vip" if self.rng.random() < 0.04 else "standard",
            consent_marketing=self.rng.random() < 0.4,
            consent_data_processing=self.rng.random() < 0.98,
            created_at=self.at(self.rng.randint(20, 900)),
        )

    def _postcode(self, pattern: str) -> str:
        return "".join(
            str(self.rng.randint(1, 9) if i == 0 else self.rng.randint(0, 9)) if ch == "9"
            else self.rng.choice("ABCDEFGHJKLMNPRSTVWXZ") if ch == "A" else ch
            for i, ch in enumerate(pattern)
        )

    def _order(self, customer: CustomerRow, days_ago: int) -> OrderRow:
        products = list(self.catalogue.values())
        lines = [(product, self.rng.choices((1, 2, 3), weights=(80, 15, 5))[0])
                 for product in self.rng.sample(products, self.rng.choices((1, 2, 3),
                                                                          weights=(60, 30, 10))[0])]
        carrier = self.rng.choice(CARRIERS)
        placed = self.at(days_ago + self.rng.random() * 0.3)
        status = self._status(days_ago)
        order = self._order_row(customer, lines, status, carrier, placed)
        transit = self.rng.randint(2, 4)
        order.promised_date = placed.date() + timedelta(days=transit)
        if status in ("placed", "packed", "cancelled"):
            order.carrier = None if status != "packed" else carrier
            return order
        order.shipped_at = placed + timedelta(hours=self.rng.randint(6, 30))
        late = status == "shipped" and order.promised_date < self.today
        if status in ("delivered", "returned"):
            delay = 0 if self.rng.random() < 0.88 else self.rng.randint(1, 4)
            order.delivered_at = datetime.combine(
                order.promised_date + timedelta(days=delay), time(self.rng.randint(9, 18))
            )
            if order.delivered_at > self.noon:
                order.status, order.delivered_at = "shipped", None
        elif late and days_ago > 30:
            order.status = "lost"  # a month overdue: the carrier has lost it
        return order

    def _status(self, days_ago: int) -> str:
        if days_ago == 0:
            return self.rng.choice(("placed", "placed", "packed"))
        if days_ago <= 3:
            return self.rng.choices(("packed", "shipped", "delivered"), weights=(15, 60, 25))[0]
        if days_ago <= 14:
            return self.rng.choices(("shipped", "delivered", "cancelled"),
                                    weights=(15, 82, 3))[0]
        return self.rng.choices(("delivered", "returned", "cancelled", "lost", "shipped"),
                                weights=(90, 5, 3, 1, 1))[0]

    def _order_row(
        self, customer: CustomerRow, lines: list[tuple[Product, int]], status: str,
        carrier: str, placed: datetime,
    ) -> OrderRow:
        subtotal = round(sum(product.price * quantity for product, quantity in lines), 2)
        shipping = self.shipping_cost if subtotal < self.free_over else 0.0
        return OrderRow(
            number="", customer_id=customer.id, status=status, placed_at=placed,
            total=round(subtotal + shipping, 2), currency=self.currency, carrier=carrier,
            email=customer.email, postcode=customer.postcode or "",
            lines=[
                OrderLineRow(position=position, sku=product.sku, product_name=product.name,
                             quantity=quantity, unit_price=product.price)
                for position, (product, quantity) in enumerate(lines, start=1)
            ],
        )

    def _past_complaint(self, customer: CustomerRow, order: OrderRow) -> None:
        days_ago = (self.noon - order.placed_at).days
        if days_ago > 85 or order.status in ("placed", "packed", "cancelled"):
            return
        late = order.status == "shipped" and order.promised_date < self.today
        fragile = any(self.catalogue[line.sku].category in FRAGILE for line in order.lines)
        if late or order.status == "lost":
            category = "late_delivery" if late else "missing_item"
        elif fragile and self.rng.random() < 0.6:
            category = "damaged"
        else:
            category = self.rng.choice(list(COMPLAINTS))
        opened = self.at(max(0, days_ago - self.rng.randint(1, 3)))
        status = self.rng.choices(("closed", "resolved", "open"), weights=(60, 30, 10))[0]
        self._case(customer, order, category, opened, status)

    def _case(
        self, customer: CustomerRow, order: Optional[OrderRow], category: str,
        opened: datetime, status: str,
    ) -> None:
        severity, description = COMPLAINTS[category]
        done = status in ("closed", "resolved")
        case = CaseRow(
            id=self.id("CS"), customer_id=customer.id,
            order_number=order.number if order is not None else None, category=category,
            severity=severity,
            severity_score={"low": 0.25, "medium": 0.5, "high": 0.75}[severity],
            severity_reasons=json.dumps([f"category {category}"]), status=status,
            description=description, resolution=None, resolved=True if done else None,
            csat=self.rng.randint(3, 5) if done else None,
            created_at=opened, updated_at=opened + timedelta(minutes=6 if done else 2),
        )
        self.interactions.append(InteractionRow(
            customer_id=customer.id, at=opened, channel="telegram", kind="complaint",
            summary=f"Complaint: {category.replace('_', ' ')}",
        ))
        if done:
            kind = "voucher" if severity == "low" else self.rng.choice(("refund", "replacement"))
            amount = 10.0 if kind == "voucher" else (order.total if order is not None else None)
            case.resolution = f"{kind} accepted"
            self.offers.append(OfferRow(
                id=self.id("OF"), case_id=case.id, kind=kind, amount=amount, status="accepted",
                voucher_code=f"LO-DEMO{self.rng.getrandbits(24):06X}" if kind == "voucher"
                else None,
                created_at=opened + timedelta(minutes=3), settled_at=opened + timedelta(minutes=4),
            ))
            self.interactions.append(InteractionRow(
                customer_id=customer.id, at=opened + timedelta(minutes=4), channel="telegram",
                kind="offer_accepted", summary=f"Accepted a {kind}",
            ))
        self.cases.append(case)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
