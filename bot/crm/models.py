"""The CRM's tables, as SQLAlchemy declarative models.

Rows never leave `bot.crm`: `SqlCrm` turns them into the interface's frozen dataclasses.
Ids of records the interface exposes are short opaque strings with a prefix ("C-" customer,
"CS-" case, "OF-" offer, then 12 hex digits); rows only the CRM refers to (order lines,
identities, interactions, verification attempts) have integer keys. Times are stored as
naive UTC; money as NUMERIC(…, 2) read back as float.
"""

from __future__ import annotations

import secrets

from sqlalchemy import (
    Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
    MetaData, Numeric, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.crm.validation import (
    CASE_STATUSES, OFFER_KINDS, OFFER_STATUSES, ORDER_STATUSES, SEVERITIES, TIERS,
)
from bot.database import naive_utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)

Money = Numeric(12, 2, asdecimal=False)


def new_id(prefix: str) -> str:
    """A new opaque id such as "C-3f9a0c1b2d4e"."""
    return f"{prefix}-{secrets.token_hex(6)}"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class CustomerRow(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(_in("tier", TIERS), name="tier"),)

    id = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    email = Column(String(254), nullable=False, index=True)
    phone = Column(String(32))
    postcode = Column(String(16))
    tier = Column(String(16), nullable=False, default="standard")
    consent_marketing = Column(Boolean, nullable=False, default=False)
    consent_data_processing = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=naive_utcnow)


class ChannelIdentityRow(Base):
    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(32), nullable=False)
    channel_user_id = Column(String(128), nullable=False)
    customer_id = Column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    linked_at = Column(DateTime, nullable=False, default=naive_utcnow)


class ProductRow(Base):
    __tablename__ = "products"

    sku = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    category = Column(String(64), nullable=False, index=True)
    price = Column(Money, nullable=False)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    number = Column(String(16), nullable=False, unique=True)
    customer_id = Column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    status = Column(String(16), nullable=False)
    placed_at = Column(DateTime, nullable=False)
    total = Column(Money, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    carrier = Column(String(32))
    shipped_at = Column(DateTime)
    promised_date = Column(Date)
    delivered_at = Column(DateTime)
    email = Column(String(254), nullable=False)
    postcode = Column(String(16), nullable=False)

    lines = relationship(
        "OrderLineRow", order_by="OrderLineRow.position", cascade="all, delete-orphan",
        lazy="raise",
    )


class OrderLineRow(Base):
    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position = Column(Integer, nullable=False)
    sku = Column(String(32), ForeignKey("products.sku"), nullable=False, index=True)
    product_name = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Money, nullable=False)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat_range"),
        Index("ix_cases_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_cases_request_key", "request_key", unique=True),  # NULLs may repeat
    )

    id = Column(String(32), primary_key=True)
    customer_id = Column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    order_number = Column(String(16), ForeignKey("orders.number"), index=True)
    category = Column(String(64), nullable=False)
    severity = Column(String(16), nullable=False)
    severity_score = Column(Float, nullable=False)
    severity_reasons = Column(Text, nullable=False, default="[]")  # a JSON list of strings
    status = Column(String(16), nullable=False, default="open", index=True)
    description = Column(Text, nullable=False)
    resolution = Column(Text)
    resolved = Column(Boolean)
    csat = Column(Integer)
    created_at = Column(DateTime, nullable=False, default=naive_utcnow)
    updated_at = Column(DateTime, nullable=False, default=naive_utcnow)
    # The caller's idempotency key (NewCase.request_key): unique, NULL for unkeyed cases.
    request_key = Column(String(200))


class OfferRow(Base):
    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(_in("kind", OFFER_KINDS), name="kind"),
        CheckConstraint(_in("status", OFFER_STATUSES), name="status"),
    )

    id = Column(String(32), primary_key=True)
    case_id = Column(
        String(32), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = Column(String(16), nullable=False)
    amount = Column(Money)
    voucher_code = Column(String(32), unique=True)
    status = Column(String(16), nullable=False, default="offered")
    created_at = Column(DateTime, nullable=False, default=naive_utcnow)
    settled_at = Column(DateTime)


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_id_at", "customer_id", "at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    at = Column(DateTime, nullable=False, default=naive_utcnow)
    channel = Column(String(32), nullable=False)
    kind = Column(String(32), nullable=False)
    summary = Column(Text, nullable=False)


class VerificationAttemptRow(Base):
    """One identity check: who tried which order with which (hashed) contact, and the outcome.

    An attempt is reserved as pending (`succeeded` NULL, counted as a failure by everyone
    else until settled) before the details are compared. `client` is the channel and client
    the attempt came from ("telegram:42", "webchat:<session creator>", "rest:<integration>");
    `contact_hash` an HMAC of the e-mail, postcode or phone given. What the customer typed is
    never stored.
    """

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_conversation_id_at", "conversation_id", "at"),
        Index("ix_verification_attempts_order_number_at", "order_number", "at"),
        Index("ix_verification_attempts_client_at", "client", "at"),
        Index("ix_verification_attempts_contact_hash_at", "contact_hash", "at"),
        Index("ix_verification_attempts_at", "at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(255), nullable=False)
    order_number = Column(String(64), nullable=False)
    client = Column(String(255), nullable=False, default="")
    contact_hash = Column(String(64), nullable=False, default="")
    succeeded = Column(Boolean)  # NULL: reserved, not settled yet
    at = Column(DateTime, nullable=False, default=naive_utcnow)
