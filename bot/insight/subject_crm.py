"""One data subject in the SQL CRM: who they are, their records, and erasing them.

Erasure keeps what accounting needs and nothing that identifies the person: orders, their
lines, cases and offers stay (refunds and vouchers must still add up), while the customer's
name, e-mail, phone and postcode, the e-mail and postcode on their orders, and the
customer's own words in their cases (redacted with `bot.insight.redaction.redact`) are
overwritten. Their channel identities, interaction timeline and verification attempts
(in their conversations or on their orders) are deleted. Running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from bot.crm.models import (
    CaseRow, ChannelIdentityRow, CustomerRow, InteractionRow, OfferRow, OrderLineRow, OrderRow,
    VerificationAttemptRow,
)
from bot.errors import RapportError
from bot.insight.redaction import redact

customers = CustomerRow.__table__
identities = ChannelIdentityRow.__table__
orders = OrderRow.__table__
order_lines = OrderLineRow.__table__
cases = CaseRow.__table__
offers = OfferRow.__table__
interactions = InteractionRow.__table__
attempts = VerificationAttemptRow.__table__

ERASED_NAME = "(erased)"


class UnknownCustomer(RapportError, LookupError):
    """No CRM customer has that id or e-mail address."""


def erased_email(customer_id: str) -> str:
    """The placeholder an erased customer's e-mail becomes (the column may not be empty)."""
    return f"erased-{customer_id.lower()}@invalid"


@dataclass(frozen=True)
class Subject:
    """The customer a privacy request is about."""

    customer_id: str
    erased: bool  # already anonymised by an earlier `forget`


def find_customer(crm: Engine, identifier: str) -> Subject:
    """The customer with this id, or the one customer with this e-mail address."""
    wanted = identifier.strip()
    if not wanted:
        raise UnknownCustomer("name a customer: a CRM customer id or an e-mail address")
    with crm.connect() as connection:
        rows = connection.execute(select(customers.c.id, customers.c.name).where(or_(
            customers.c.id == wanted, func.lower(customers.c.email) == wanted.lower()))).all()
    by_id = [row for row in rows if row.id == wanted]
    if by_id:
        rows = by_id
    if not rows:
        raise UnknownCustomer(f"no customer in the CRM has the id or e-mail {wanted!r}")
    if len(rows) > 1:
        ids = ", ".join(sorted(row.id for row in rows))
        raise UnknownCustomer(f"the e-mail {wanted!r} belongs to several customers ({ids}): "
                              "name one by its customer id")
    return Subject(rows[0].id, rows[0].name == ERASED_NAME)


def conversation_ids(crm: Engine, customer_id: str) -> set[str]:
    """Rasa sender ids the CRM ties to the customer.

    Linked channel identities (their `channel_user_id` is the sender id) and conversations in
    which one of the customer's orders was verified. Interactions carry no conversation id.
    """
    with crm.connect() as connection:
        linked = connection.scalars(select(identities.c.channel_user_id).where(
            identities.c.customer_id == customer_id)).all()
        verified = connection.scalars(select(attempts.c.conversation_id).where(
            attempts.c.succeeded.is_(True),
            attempts.c.order_number.in_(_order_numbers(customer_id)))).all()
    return set(linked) | set(verified)


def _order_numbers(customer_id: str):
    return select(orders.c.number).where(orders.c.customer_id == customer_id)


def records(crm: Engine, customer_id: str) -> dict[str, Any]:
    """Everything the CRM holds about the customer, as plain rows (for an export)."""
    def rows(connection: Connection, query) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in connection.execute(query)]

    with crm.connect() as connection:
        customer = rows(connection, select(customers).where(customers.c.id == customer_id))
        their_orders = rows(connection, select(orders).where(
            orders.c.customer_id == customer_id).order_by(orders.c.placed_at))
        lines = rows(connection, select(order_lines).where(order_lines.c.order_id.in_(
            [order["id"] for order in their_orders])).order_by(order_lines.c.position))
        their_cases = rows(connection, select(cases).where(
            cases.c.customer_id == customer_id).order_by(cases.c.created_at))
        their_offers = rows(connection, select(offers).where(offers.c.case_id.in_(
            [case["id"] for case in their_cases])).order_by(offers.c.created_at))
        timeline = rows(connection, select(interactions).where(
            interactions.c.customer_id == customer_id).order_by(interactions.c.at))
        linked = rows(connection, select(identities).where(
            identities.c.customer_id == customer_id).order_by(identities.c.linked_at))
    for order in their_orders:
        order["lines"] = [line for line in lines if line["order_id"] == order["id"]]
    return {"customer": customer[0] if customer else None, "orders": their_orders,
            "cases": their_cases, "offers": their_offers, "interactions": timeline,
            "channel_identities": linked}


def erase(crm: Engine, customer_id: str, conversations: Iterable[str]) -> dict[str, int]:
    """Delete the customer's links and anonymise their record; counts of what changed."""
    conversations = sorted(set(conversations))
    with crm.begin() as connection:
        counts = {
            "channel identities": connection.execute(delete(identities).where(
                identities.c.customer_id == customer_id)).rowcount,
            "interactions": connection.execute(delete(interactions).where(
                interactions.c.customer_id == customer_id)).rowcount,
            "verification attempts": connection.execute(delete(attempts).where(or_(
                attempts.c.conversation_id.in_(conversations),
                attempts.c.order_number.in_(_order_numbers(customer_id))))).rowcount,
        }
        placeholder = erased_email(customer_id)
        counts["customer record anonymised"] = connection.execute(
            update(customers).where(customers.c.id == customer_id,
                                    customers.c.email != placeholder)
            .values(name=ERASED_NAME, email=placeholder, phone=None, postcode=None,
                    consent_marketing=False)).rowcount
        counts["orders anonymised"] = connection.execute(
            update(orders).where(orders.c.customer_id == customer_id,
                                 or_(orders.c.email != placeholder, orders.c.postcode != ""))
            .values(email=placeholder, postcode="")).rowcount
        counts["cases redacted"] = _redact_cases(connection, customer_id)
    return counts


def _redact_cases(connection: Connection, customer_id: str) -> int:
    changed = 0
    for case in connection.execute(select(cases.c.id, cases.c.description, cases.c.resolution)
                                   .where(cases.c.customer_id == customer_id)).all():
        description = redact(case.description or "")
        resolution = None if case.resolution is None else redact(case.resolution)
        if (description, resolution) != (case.description, case.resolution):
            connection.execute(update(cases).where(cases.c.id == case.id)
                               .values(description=description, resolution=resolution))
            changed += 1
    return changed
