"""Order status answers from the seeded CRM's real orders and dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.crm.interface import Order
from bot.conversation.order_status import days_late, describe_order, spoken_date
from tests.conftest import TODAY


def test_spoken_date():
    assert spoken_date(date(2026, 11, 28)) == "Saturday 28 November"
    assert spoken_date(datetime(2026, 11, 27, 15, 30)) == "Friday 27 November"


async def test_on_time_order_says_when_it_left_and_when_it_arrives(crm):
    answer = describe_order(await crm.get_order("RP-100001"), TODAY)
    assert answer.response == "utter_order_status_shipped"
    assert answer.values["carrier"] == "DPD"
    assert answer.values["shipped_date"] == spoken_date(TODAY - timedelta(days=1))
    assert answer.values["due_date"] == spoken_date(TODAY + timedelta(days=1))
    assert not answer.is_late


async def test_late_order_says_how_late(crm):
    answer = describe_order(await crm.get_order("RP-100002"), TODAY)
    assert answer.response == "utter_order_status_late"
    assert answer.days_late == 3
    assert answer.values["days_late"] == "3 days"


async def test_delivered_and_lost_orders(crm):
    delivered = describe_order(await crm.get_order("RP-100003"), TODAY)
    lost = describe_order(await crm.get_order("RP-100005"), TODAY)
    assert delivered.response == "utter_order_status_delivered"
    assert lost.response == "utter_order_status_lost" and lost.is_late


def _order(**changes) -> Order:
    base = dict(number="RP-123456", customer_id="C-1", status="placed",
                placed_at=datetime(2026, 11, 1), total=10.0, currency="EUR", carrier=None,
                shipped_at=None, promised_date=date(2026, 11, 20), delivered_at=None,
                email="a@example.com", postcode="1012 AB")
    base.update(changes)
    return Order(**base)


def test_unshipped_and_overdue_is_late():
    answer = describe_order(_order(), date(2026, 11, 21))
    assert answer.response == "utter_order_status_late_unshipped" and answer.days_late == 1


def test_delivered_late_counts_the_delay_but_cancelled_never_late():
    delivered = _order(status="delivered", delivered_at=datetime(2026, 11, 23))
    assert days_late(delivered, date(2026, 12, 1)) == 3
    assert days_late(_order(status="cancelled"), date(2026, 12, 1)) == 0
    assert describe_order(_order(status="cancelled"), TODAY).response == "utter_order_status_cancelled"
