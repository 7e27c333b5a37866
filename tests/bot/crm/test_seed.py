"""The demo data set: realistic, reproducible, refuses to overwrite, and the documented records."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.database import make_engine, make_session_factory
from bot.crm.models import CaseRow, CustomerRow, OrderRow
from bot.crm.upgrade import upgrade_schema
from bot.crm.seed import SeedError, seed_demo
from bot.crm.sql import SqlCrm
from bot.crm.validation import ORDER_NUMBER_RE

from .helpers import row_counts

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the fixtures run on

TODAY = date(2026, 3, 16)


def _orders(engine) -> list[OrderRow]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(OrderRow)))


def test_full_demo_set_looks_like_a_shop(engine, brand):
    summary = seed_demo(engine, brand, today=TODAY)
    assert summary.customers == 300 and summary.products == len(brand.products)
    assert 500 <= summary.orders <= 700  # about two each
    with make_session_factory(engine)() as session:
        customers = list(session.scalars(select(CustomerRow)))
        cases = list(session.scalars(select(CaseRow)))
    orders = _orders(engine)
    tiers = Counter(c.tier for c in customers)
    assert 0.02 <= tiers["vip"] / len(customers) <= 0.08
    assert all(c.email.endswith(("@example.com", "@example.org")) for c in customers)
    assert len({c.email for c in customers}) == len(customers)
    assert {o.carrier for o in orders if o.carrier} == {"DPD", "PostNL", "DHL"}
    assert all(ORDER_NUMBER_RE.match(o.number) for o in orders)
    statuses = Counter(o.status for o in orders)
    assert statuses["delivered"] > len(orders) / 2
    assert {"shipped", "lost", "returned", "cancelled"} <= set(statuses)
    late = [o for o in orders if o.status == "shipped" and o.promised_date < TODAY]
    assert len(late) >= 2
    postcodes = [c.postcode for c in customers]
    assert any(re.fullmatch(r"\d{4} [A-Z]{2}", p) for p in postcodes)  # Dutch
    assert any(re.fullmatch(r"\d{5}", p) for p in postcodes)  # German, French, Spanish
    recent = [c for c in cases if (TODAY - c.created_at.date()).days <= 90]
    assert len({c.customer_id for c in recent}) >= 5
    assert all(o.placed_at.date() <= TODAY for o in orders)


async def test_documented_demo_records(engine, brand):
    seed_demo(engine, brand, customers=20, today=date.today())
    crm = SqlCrm(engine)
    today = date.today()
    first = await crm.get_order("RP-100001")
    ada = await crm.get_customer(first.customer_id)
    assert (ada.name, ada.email, first.postcode) == ("Ada Lovelace", "ada@example.com", "1012 AB")
    assert (first.status, first.carrier) == ("shipped", "DPD") and first.promised_date > today
    late = await crm.get_order("RP-100002")
    assert late.status == "shipped" and late.promised_date == today - timedelta(days=3)
    assert late.delivered_at is None and late.customer_id == ada.id
    delivered = await crm.get_order("RP-100003")
    assert delivered.status == "delivered" and delivered.total > 300
    vip_order = await crm.get_order("RP-100004")
    assert (await crm.get_customer(vip_order.customer_id)).tier == "vip"
    assert (await crm.get_order("RP-100005")).status == "lost"
    expensive = await crm.get_order("RP-100006")
    assert 850 <= expensive.total <= 950
    alan = await crm.customer_card((await crm.get_order("RP-100005")).customer_id)
    assert alan.customer.name == "Alan Turing" and alan.complaints_last_90_days == 2


def test_same_seed_same_data(tmp_path, brand):
    dumps = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name / 'crm.db'}"
        upgrade_schema(url)
        engine = make_engine(url)
        seed_demo(engine, brand, customers=60, seed=3, today=TODAY)
        dumps.append([(o.number, o.customer_id, o.status, o.placed_at, o.total, o.carrier)
                      for o in sorted(_orders(engine), key=lambda o: o.number)])
        engine.dispose()
    assert dumps[0] == dumps[1]


def test_refuses_to_seed_twice_unless_reset(engine, brand):
    seed_demo(engine, brand, customers=12, today=TODAY)
    before = row_counts(engine)
    with pytest.raises(SeedError, match="--force"):
        seed_demo(engine, brand, customers=12, today=TODAY)
    assert row_counts(engine) == before
    seed_demo(engine, brand, customers=8, today=TODAY, reset=True)
    assert row_counts(engine)["customers"] == 8


def test_too_few_customers_is_an_error(engine, brand):
    with pytest.raises(SeedError):
        seed_demo(engine, brand, customers=2)
