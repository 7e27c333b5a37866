"""ORM rows → the interface's frozen records (the only place that reads rows for callers)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from bot.crm.interface import Case, Customer, Interaction, Offer, Order, OrderLine
from bot.crm.models import CaseRow, CustomerRow, InteractionRow, OfferRow, OrderRow
from bot.crm.validation import as_utc


def _aware(moment: Optional[datetime]) -> Optional[datetime]:
    return as_utc(moment) if moment is not None else None


def order_record(row: OrderRow) -> Order:
    return Order(
        number=row.number, customer_id=row.customer_id, status=row.status,
        placed_at=as_utc(row.placed_at), total=float(row.total), currency=row.currency,
        carrier=row.carrier, shipped_at=_aware(row.shipped_at), promised_date=row.promised_date,
        delivered_at=_aware(row.delivered_at), email=row.email, postcode=row.postcode,
        lines=tuple(
            OrderLine(line.sku, line.product_name, line.quantity, float(line.unit_price))
            for line in row.lines
        ),
    )


def customer_record(row: CustomerRow) -> Customer:
    return Customer(
        id=row.id, name=row.name, email=row.email, phone=row.phone, tier=row.tier,
        consent_marketing=bool(row.consent_marketing),
        consent_data_processing=bool(row.consent_data_processing),
    )


def case_record(row: CaseRow) -> Case:
    try:
        reasons = tuple(str(reason) for reason in json.loads(row.severity_reasons or "[]"))
    except (ValueError, TypeError):
        reasons = ()
    return Case(
        id=row.id, customer_id=row.customer_id, order_number=row.order_number,
        category=row.category, severity=row.severity, severity_score=float(row.severity_score),
        severity_reasons=reasons, status=row.status, description=row.description,
        resolution=row.resolution, resolved=row.resolved, csat=row.csat,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
    )


def offer_record(row: OfferRow) -> Offer:
    return Offer(
        id=row.id, case_id=row.case_id, kind=row.kind,
        amount=float(row.amount) if row.amount is not None else None,
        voucher_code=row.voucher_code, status=row.status, created_at=as_utc(row.created_at),
    )


def interaction_record(row: InteractionRow) -> Interaction:
    return Interaction(row.customer_id, as_utc(row.at), row.channel, row.kind, row.summary)
