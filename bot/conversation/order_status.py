"""Turning an order's real status and dates into a natural answer.

The wording lives in domain.yml (`utter_order_status_*`, brand-editable); this module picks
the response and fills its values: "It left our warehouse on Tuesday 18 November with DPD
and should arrive by Friday 21 November."
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional

from bot.crm.interface import Order


@dataclass(frozen=True)
class OrderStatusAnswer:
    response: str
    values: dict[str, str] = field(default_factory=dict)
    days_late: int = 0

    @property
    def is_late(self) -> bool:
        return self.days_late > 0


def spoken_date(day: date | datetime) -> str:
    """'Friday 28 November', the way people say dates in chat."""
    return f"{day:%A} {day.day} {day:%B}"


def _items(order: Order) -> str:
    names = [line.product_name for line in order.lines]
    if not names:
        return "your items"
    if len(names) == 1:
        return names[0]
    return f"{names[0]} and {len(names) - 1} more item{'s' if len(names) > 2 else ''}"


days_late = Order.days_late  # days_late(order, today): lateness lives with the order


def describe_order(order: Order, today: date) -> OrderStatusAnswer:
    """The response to give for `order` on `today`."""
    values = {"order_number": order.number, "items": _items(order),
              "carrier": order.carrier or "our courier"}
    if order.promised_date:
        values["due_date"] = spoken_date(order.promised_date)
    late = days_late(order, today)
    if order.status == "cancelled":
        return OrderStatusAnswer("utter_order_status_cancelled", values)
    if order.status == "returned":
        return OrderStatusAnswer("utter_order_status_returned", values)
    if order.status == "lost":
        return OrderStatusAnswer("utter_order_status_lost", values, days_late=max(late, 1))
    if order.status == "delivered" and order.delivered_at:
        values["delivered_date"] = spoken_date(order.delivered_at)
        return OrderStatusAnswer("utter_order_status_delivered", values)
    if order.status == "shipped" and order.shipped_at:
        values["shipped_date"] = spoken_date(order.shipped_at)
        if late:
            values["days_late"] = _days(late)
            return OrderStatusAnswer("utter_order_status_late", values, days_late=late)
        return OrderStatusAnswer("utter_order_status_shipped", values)
    if late:
        values["days_late"] = _days(late)
        return OrderStatusAnswer("utter_order_status_late_unshipped", values, days_late=late)
    return OrderStatusAnswer("utter_order_status_preparing", values)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def today_in(timezone_name: Optional[str] = None) -> date:
    """Today in the brand's time zone (dates in answers are the brand's dates)."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(timezone_name or "UTC")).date()
