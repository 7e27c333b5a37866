"""What Rapport needs from a CRM, so a brand can plug in its own.

Actions and the hub talk to a `Crm`; `bot.crm.sql.SqlCrm` (the default, SQLAlchemy) and
`bot.crm.http.HttpCrm` (a brand's HTTP JSON API) implement it. Records cross this boundary
as the frozen dataclasses below, never as ORM objects, so callers cannot lazy-load or
mutate the database by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional, Protocol

from bot.errors import Unavailable


class CrmError(Exception):
    """Base class of the CRM errors actions turn into honest answers."""


class CrmUnavailable(CrmError, Unavailable):
    """The CRM cannot be reached or answered with an error (retry later, or a human)."""


class OrderNotFound(CrmError):
    """No order with that number."""


class CustomerNotFound(CrmError):
    """No customer with that id."""


class CaseNotFound(CrmError):
    """No case with that id."""


@dataclass(frozen=True)
class OrderLine:
    sku: str
    product_name: str
    quantity: int
    unit_price: float


@dataclass(frozen=True)
class Order:
    number: str  # "RP-123456"
    customer_id: str
    status: str  # placed | packed | shipped | delivered | lost | returned | cancelled
    placed_at: datetime
    total: float
    currency: str
    carrier: Optional[str]
    shipped_at: Optional[datetime]
    promised_date: Optional[date]
    delivered_at: Optional[datetime]
    email: str  # the e-mail given on the order (verification)
    postcode: str  # the delivery postcode (verification)
    lines: tuple[OrderLine, ...] = ()

    def days_late(self, today: date) -> int:
        """Lateness from the promise: delivered late, or not delivered and overdue."""
        if self.promised_date is None or self.status in {"cancelled", "returned"}:
            return 0
        if self.delivered_at is not None:
            return max(0, (self.delivered_at.date() - self.promised_date).days)
        return max(0, (today - self.promised_date).days)


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    phone: Optional[str]
    tier: str  # standard | vip
    consent_marketing: bool = False
    consent_data_processing: bool = True


@dataclass(frozen=True)
class Case:
    id: str
    customer_id: str
    order_number: Optional[str]
    category: str  # an issue type key, e.g. "damaged"
    severity: str  # low | medium | high | critical
    severity_score: float
    severity_reasons: tuple[str, ...]
    status: str  # open | offered | resolved | needs_human | callback | closed
    description: str
    resolution: Optional[str]
    resolved: Optional[bool]  # the customer's answer to "does that resolve it?"
    csat: Optional[int]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Offer:
    id: str
    case_id: str
    kind: str  # refund | replacement | voucher | callback
    amount: Optional[float]
    voucher_code: Optional[str]
    status: str  # offered | accepted | declined
    created_at: datetime


@dataclass(frozen=True)
class Interaction:
    customer_id: str
    at: datetime
    channel: str
    kind: str  # e.g. verified, order_status, complaint, offer_accepted, handoff, csat
    summary: str


@dataclass(frozen=True)
class CustomerCard:
    """What an agent (or a severity rule) needs to know about one customer."""

    customer: Customer
    orders: tuple[Order, ...]
    open_cases: tuple[Case, ...]
    complaints_last_90_days: int
    timeline: tuple[Interaction, ...] = field(default=())


@dataclass(frozen=True)
class AttemptKeys:
    """What a verification attempt is counted under (never the secret the customer typed)."""

    conversation_id: str
    order_number: str
    client: str  # channel and client: "telegram:42", "webchat:<creator>", "rest:<integration>"
    contact_hash: str  # an HMAC of the contact detail given, made by Rapport


@dataclass(frozen=True)
class AttemptCounts:
    """Failed or still pending attempts, other than the one just reserved."""

    conversation: int  # in this conversation, in the window
    order_client: int  # on this order from this client
    contact_client: int  # with this contact detail from this client
    client: int  # from this client, any order
    everyone: int  # from anyone, in the breaker's window
    contact: int = 0  # with this contact detail from anyone, in the breaker's window
    contacts: int = 0  # distinct contact details failing, from anyone, in the breaker's window


@dataclass(frozen=True)
class Reservation:
    attempt_id: str
    counts: AttemptCounts


ATTEMPT_OUTCOMES = ("succeeded", "failed", "refused")


@dataclass(frozen=True)
class NewCase:
    customer_id: str
    order_number: Optional[str]
    category: str
    severity: str
    severity_score: float
    severity_reasons: tuple[str, ...]
    description: str
    status: str = "open"
    # The same key opens the same case once: a turn run again after a crash (the channel
    # re-delivers the message) gets the case its first run opened, not a second one.
    request_key: Optional[str] = None


class Crm(Protocol):
    """The CRM operations Rapport uses. Every method may raise `CrmUnavailable`."""

    async def get_order(self, order_number: str) -> Order:
        """The order, or `OrderNotFound`."""

    async def get_customer(self, customer_id: str) -> Customer:
        """The customer, or `CustomerNotFound`."""

    async def customer_card(self, customer_id: str) -> CustomerCard:
        """Customer, recent orders, open cases, complaint count and timeline."""

    async def find_identity(self, channel: str, channel_user_id: str) -> Optional[str]:
        """The customer id linked to this channel user, if they verified before."""

    async def link_identity(self, channel: str, channel_user_id: str, customer_id: str) -> None:
        """Remember that this channel user is this (verified) customer."""

    async def reserve_verification_attempt(
        self, keys: AttemptKeys, *, since: datetime, breaker_since: datetime
    ) -> Reservation:
        """Record a pending attempt and count the others, in one serialised transaction.

        Counts cover failed and pending attempts at or after `since` (`breaker_since` for
        `everyone`, `contact` and `contacts`), so parallel attempts each see the ones reserved
        before them.
        """

    async def settle_verification_attempt(self, attempt_id: str, outcome: str) -> None:
        """Settle a reserved attempt: succeeded, failed, or refused (not compared: forgotten)."""

    async def open_case(self, new_case: NewCase) -> Case:
        """Create a complaint case.

        With `new_case.request_key` set, a repeated key returns the case that key opened
        first, as it is now (its current status, resolution, ...), not a new one; the rest of
        the repeated `NewCase` is not compared. Concurrent opens with one key give one case.
        A key is 1 to 200 printable characters (else `InvalidRequest`).
        """

    async def get_case(self, case_id: str) -> Case:
        """The case, or `CaseNotFound`."""

    async def update_case(
        self, case_id: str, *, status: Optional[str] = None, resolution: Optional[str] = None,
        resolved: Optional[bool] = None, csat: Optional[int] = None,
        add_detail: Optional[str] = None,
    ) -> Case:
        """Change a case's status, resolution, the customer's answer, or CSAT; `add_detail`
        appends what the customer added later to the description."""

    async def make_offer(self, case_id: str, kind: str, amount: Optional[float] = None) -> Offer:
        """Record an offered remedy (status 'offered')."""

    async def settle_offer(self, offer_id: str, accepted: bool) -> Offer:
        """Accept or decline an offer; accepting a voucher issues a real, unique code."""

    async def offers_for_case(self, case_id: str) -> tuple[Offer, ...]:
        """Every offer made on a case, oldest first."""

    async def add_interaction(
        self, customer_id: str, channel: str, kind: str, summary: str
    ) -> None:
        """Append to the customer's interaction timeline."""

    async def close(self) -> None:
        """Release connections."""
