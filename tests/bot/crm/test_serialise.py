"""JSON ↔ CRM dataclasses, shared by HttpCrm and the reference server."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.crm import Case, Customer, CustomerCard, Interaction, Offer, Order, OrderLine
from bot.crm.serialise import SerialiseError, from_json, to_json

AT = datetime(2026, 3, 14, 10, 30, tzinfo=timezone.utc)
ORDER = Order(
    number="RP-100001", customer_id="C-1", status="shipped", placed_at=AT, total=78.95,
    currency="EUR", carrier="DPD", shipped_at=AT, promised_date=date(2026, 3, 17),
    delivered_at=None, email="ada@example.com", postcode="1012 AB",
    lines=(OrderLine("LO-0001", "Skillet", 1, 49.95),),
)
CASE = Case(
    id="CS-1", customer_id="C-1", order_number="RP-100001", category="damaged", severity="high",
    severity_score=0.8, severity_reasons=("a", "b"), status="open", description="d",
    resolution=None, resolved=None, csat=None, created_at=AT, updated_at=AT,
)
CARD = CustomerCard(
    customer=Customer("C-1", "Ada", "ada@example.com", None, "vip"), orders=(ORDER,),
    open_cases=(CASE,), complaints_last_90_days=1,
    timeline=(Interaction("C-1", AT, "telegram", "verified", "ok"),),
)


@pytest.mark.parametrize("record", [ORDER, CASE, CARD, Offer("OF-1", "CS-1", "voucher", 10.0,
                                                             "LO-ABCDEFGHJK", "accepted", AT)])
def test_round_trip(record):
    assert from_json(type(record), to_json(record)) == record


def test_json_shape():
    data = to_json(ORDER)
    assert data["placed_at"] == "2026-03-14T10:30:00+00:00"
    assert data["promised_date"] == "2026-03-17" and data["delivered_at"] is None
    assert data["lines"] == [{"sku": "LO-0001", "product_name": "Skillet", "quantity": 1,
                              "unit_price": 49.95}]


def test_times_are_read_as_utc():
    data = to_json(ORDER) | {"placed_at": "2026-03-14T11:30:00+01:00", "shipped_at":
                             "2026-03-14T10:30:00Z"}
    order = from_json(Order, data)
    assert order.placed_at == AT and order.placed_at.utcoffset() == timedelta(0)
    assert order.shipped_at == AT


@pytest.mark.parametrize("change, where", [
    ({"total": "12"}, "Order.total"),
    ({"total": True}, "Order.total"),
    ({"lines": [{"sku": "x"}]}, "Order.lines[0].product_name"),
    ({"placed_at": "yesterday"}, "Order.placed_at"),
    ({"promised_date": "17/03/2026"}, "Order.promised_date"),
    ({"number": None}, "Order.number"),
    ({"lines": "none"}, "Order.lines"),
])
def test_wrong_data_names_the_field(change, where):
    with pytest.raises(SerialiseError, match=where.replace("[", r"\[").replace("]", r"\]")):
        from_json(Order, to_json(ORDER) | change)


def test_missing_and_unknown_fields():
    data = to_json(ORDER)
    del data["email"]
    with pytest.raises(SerialiseError, match="Order.email: missing"):
        from_json(Order, data)
    assert from_json(Order, to_json(ORDER) | {"extra": 1}) == ORDER
    with pytest.raises(SerialiseError):
        from_json(Order, ["not", "an", "object"])
