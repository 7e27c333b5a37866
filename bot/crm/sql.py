"""`SqlCrm`: the default CRM, in a SQLAlchemy database (SQLite embedded, PostgreSQL to scale).

Each call runs one short transaction in a worker thread (`asyncio.to_thread`), so the event
loop never waits on the database. Queries are built with SQLAlchemy only (bound parameters,
never SQL from strings); database errors become `CrmUnavailable` with the error's class
name only, so nothing a customer typed or the database said leaks into a reply or a log.
Times go in and out as aware UTC datetimes (naive ones are taken to be UTC).
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Callable, Optional, TypeVar

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from bot.crm.errors import InvalidRequest, OfferNotFound
from bot.crm.interface import (
    ATTEMPT_OUTCOMES, AttemptCounts, AttemptKeys, Reservation, Case, CaseNotFound, CrmError, CrmUnavailable, Customer, CustomerCard, CustomerNotFound,
    NewCase, Offer, Order, OrderNotFound,
)
from bot.crm.models import (
    CaseRow, ChannelIdentityRow, CustomerRow, InteractionRow, OfferRow, OrderRow,
    VerificationAttemptRow, new_id,
)
from bot.crm.records import (
    case_record, customer_record, interaction_record, offer_record, order_record,
)
from bot.crm.validation import (
    CASE_STATUSES, MAX_DESCRIPTION_CHARS, MAX_SUMMARY_CHARS, OFFER_KINDS, OPEN_CASE_STATUSES,
    SEVERITIES, attempt_key, clean_channel_user, clean_key, clean_text,
    naive_utc, normalise_order_number, require_amount, require_category, require_choice,
    require_csat, require_request_key, require_score,
)
from bot.database import ThreadedStore, make_session_factory, naive_utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

CARD_ORDERS = 5
CARD_TIMELINE = 20
COMPLAINT_WINDOW = timedelta(days=90)
VOUCHER_PREFIX = "LO-"
VOUCHER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely
VOUCHER_LENGTH = 10
_ATTEMPT_LOCK_KEY = 0x52617076  # PostgreSQL advisory lock serialising verification attempts


def new_voucher_code() -> str:
    """A voucher code nobody can guess: "LO-" and 10 characters (about 50 bits) from secrets."""
    return VOUCHER_PREFIX + "".join(
        secrets.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_LENGTH)
    )


class SqlCrm(ThreadedStore):
    """The `Crm` on a SQLAlchemy engine whose schema `upgrade_schema` brought to head.

    Alembic owns the schema, so no tables are created here (`metadata` stays None).
    """

    label = "CRM database"

    def __init__(self, engine: Engine, *, dispose_engine: bool = False) -> None:
        super().__init__(engine, dispose_engine=dispose_engine)
        self._sessions = make_session_factory(engine)

    # -- plumbing ------------------------------------------------------------------------

    def _transaction(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(session, *args)` in one ORM transaction (CrmErrors pass through)."""
        with self._sessions.begin() as session:
            return work(session, *args)

    def unavailable(self, error: SQLAlchemyError, work: Callable[..., Any]) -> Exception:
        log.warning("CRM database error in %s: %s", work.__name__, type(error).__name__)
        return CrmUnavailable(f"CRM database error ({type(error).__name__})")

    # -- orders and customers ------------------------------------------------------------

    async def get_order(self, order_number: str) -> Order:
        return await self.run(_get_order, order_number)

    async def get_customer(self, customer_id: str) -> Customer:
        return await self.run(_get_customer, customer_id)

    async def customer_card(self, customer_id: str) -> CustomerCard:
        return await self.run(_customer_card, customer_id)

    # -- identities and verification -----------------------------------------------------

    async def find_identity(self, channel: str, channel_user_id: str) -> Optional[str]:
        return await self.run(_find_identity, channel, channel_user_id)

    async def link_identity(self, channel: str, channel_user_id: str, customer_id: str) -> None:
        await self.run(_link_identity, channel, channel_user_id, customer_id)

    async def reserve_verification_attempt(
        self, keys: AttemptKeys, *, since: datetime, breaker_since: datetime
    ) -> Reservation:
        return await self.run(_reserve_attempt, keys, since, breaker_since)

    async def settle_verification_attempt(self, attempt_id: str, outcome: str) -> None:
        await self.run(_settle_attempt, attempt_id, outcome)

    # -- cases and offers ----------------------------------------------------------------

    async def open_case(self, new_case: NewCase) -> Case:
        return await self.run(_open_case, new_case)

    async def get_case(self, case_id: str) -> Case:
        return await self.run(_get_case, case_id)

    async def update_case(
        self, case_id: str, *, status: Optional[str] = None, resolution: Optional[str] = None,
        resolved: Optional[bool] = None, csat: Optional[int] = None,
        add_detail: Optional[str] = None,
    ) -> Case:
        return await self.run(_update_case, case_id, status, resolution, resolved, csat,
                              add_detail)

    async def make_offer(self, case_id: str, kind: str, amount: Optional[float] = None) -> Offer:
        return await self.run(_make_offer, case_id, kind, amount)

    async def settle_offer(self, offer_id: str, accepted: bool) -> Offer:
        return await self.run(_settle_offer, offer_id, accepted)

    async def offers_for_case(self, case_id: str) -> tuple[Offer, ...]:
        return await self.run(_offers_for_case, case_id)

    async def add_interaction(
        self, customer_id: str, channel: str, kind: str, summary: str
    ) -> None:
        await self.run(_add_interaction, customer_id, channel, kind, summary)


# -- lookups that raise the named errors ------------------------------------------------


def _row_by_key(session: Session, model: type[T], key: str, missing: CrmError) -> T:
    """The `model` row whose primary key is `key` (cleaned first), or `missing` raised."""
    cleaned = clean_key(key)
    row = session.get(model, cleaned) if cleaned else None
    if row is None:
        raise missing
    return row


def _customer_row(session: Session, customer_id: str) -> CustomerRow:
    return _row_by_key(session, CustomerRow, customer_id,
                       CustomerNotFound("no customer with that id"))


def _case_row(session: Session, case_id: str) -> CaseRow:
    return _row_by_key(session, CaseRow, case_id, CaseNotFound("no case with that id"))


def _order_row(session: Session, order_number: str) -> OrderRow:
    number = normalise_order_number(order_number)
    row = None
    if number:
        query = select(OrderRow).options(selectinload(OrderRow.lines))
        row = session.scalars(query.where(OrderRow.number == number)).one_or_none()
    if row is None:
        raise OrderNotFound("no order with that number")
    return row


# -- the operations ---------------------------------------------------------------------


def _get_order(session: Session, order_number: str) -> Order:
    return order_record(_order_row(session, order_number))


def _get_customer(session: Session, customer_id: str) -> Customer:
    return customer_record(_customer_row(session, customer_id))


def _get_case(session: Session, case_id: str) -> Case:
    return case_record(_case_row(session, case_id))


def _customer_card(session: Session, customer_id: str) -> CustomerCard:
    customer = _customer_row(session, customer_id)
    orders = session.scalars(
        select(OrderRow).options(selectinload(OrderRow.lines))
        .where(OrderRow.customer_id == customer.id)
        .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc()).limit(CARD_ORDERS)
    ).all()
    open_cases = session.scalars(
        select(CaseRow)
        .where(CaseRow.customer_id == customer.id, CaseRow.status.in_(OPEN_CASE_STATUSES))
        .order_by(CaseRow.created_at.desc())
    ).all()
    complaints = session.scalar(
        select(func.count()).select_from(CaseRow).where(
            CaseRow.customer_id == customer.id,
            CaseRow.created_at >= naive_utcnow() - COMPLAINT_WINDOW,
        )
    )
    timeline = session.scalars(
        select(InteractionRow).where(InteractionRow.customer_id == customer.id)
        .order_by(InteractionRow.at.desc(), InteractionRow.id.desc()).limit(CARD_TIMELINE)
    ).all()
    return CustomerCard(
        customer=customer_record(customer),
        orders=tuple(order_record(row) for row in orders),
        open_cases=tuple(case_record(row) for row in open_cases),
        complaints_last_90_days=int(complaints or 0),
        timeline=tuple(interaction_record(row) for row in timeline),
    )


def _find_identity(session: Session, channel: str, channel_user_id: str) -> Optional[str]:
    key = clean_channel_user(channel, channel_user_id)
    if key is None:
        return None
    return session.scalar(
        select(ChannelIdentityRow.customer_id).where(
            ChannelIdentityRow.channel == key[0], ChannelIdentityRow.channel_user_id == key[1]
        )
    )


def _link_identity(session: Session, channel: str, channel_user_id: str, customer_id: str) -> None:
    key = clean_channel_user(channel, channel_user_id)
    if key is None:
        raise InvalidRequest("channel and channel user id must be short keys")
    customer = _customer_row(session, customer_id)
    values = {"channel": key[0], "channel_user_id": key[1], "customer_id": customer.id,
              "linked_at": naive_utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(ChannelIdentityRow)
        session.execute(
            insert.values(**values).on_conflict_do_update(
                index_elements=["channel", "channel_user_id"],
                set_={"customer_id": customer.id, "linked_at": values["linked_at"]},
            )
        )
        return
    existing = session.scalars(  # pragma: no cover - other databases
        select(ChannelIdentityRow).where(
            ChannelIdentityRow.channel == key[0], ChannelIdentityRow.channel_user_id == key[1]
        )
    ).one_or_none()
    if existing is None:  # pragma: no cover
        session.add(ChannelIdentityRow(**values))
    else:  # pragma: no cover
        existing.customer_id, existing.linked_at = customer.id, values["linked_at"]


def _reserve_attempt(
    session: Session, keys: AttemptKeys, since: datetime, breaker_since: datetime
) -> Reservation:
    if not isinstance(keys, AttemptKeys):
        raise InvalidRequest("reserve_verification_attempt needs AttemptKeys")
    if not isinstance(since, datetime) or not isinstance(breaker_since, datetime):
        raise InvalidRequest("since and breaker_since must be datetimes")
    if session.get_bind().dialect.name == "postgresql":
        # One reservation at a time across every process; SQLite's write lock (taken by the
        # insert below, before any count) does the same there.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ATTEMPT_LOCK_KEY})
    row = VerificationAttemptRow(
        conversation_id=clean_text(keys.conversation_id, 255),
        order_number=attempt_key(keys.order_number), client=clean_text(keys.client, 255),
        contact_hash=clean_text(keys.contact_hash, 64), succeeded=None, at=naive_utcnow(),
    )
    session.add(row)
    session.flush()
    attempts = VerificationAttemptRow

    def count(moment: datetime, *conditions: Any) -> int:
        query = select(func.count()).select_from(attempts).where(
            or_(attempts.succeeded.is_(False), attempts.succeeded.is_(None)),
            attempts.id != row.id, attempts.at >= naive_utc(moment), *conditions)
        return int(session.scalar(query) or 0)

    counts = AttemptCounts(
        conversation=count(since, attempts.conversation_id == row.conversation_id),
        order_client=count(since, attempts.order_number == row.order_number,
                           attempts.client == row.client),
        contact_client=count(since, attempts.contact_hash == row.contact_hash,
                             attempts.client == row.client),
        client=count(since, attempts.client == row.client),
        everyone=count(breaker_since),
        contact=count(breaker_since, attempts.contact_hash == row.contact_hash),
        contacts=int(session.scalar(
            select(func.count(func.distinct(attempts.contact_hash))).where(
                or_(attempts.succeeded.is_(False), attempts.succeeded.is_(None)),
                attempts.id != row.id, attempts.at >= naive_utc(breaker_since))) or 0),
    )
    return Reservation(str(row.id), counts)


def _settle_attempt(session: Session, attempt_id: str, outcome: str) -> None:
    require_choice("outcome", outcome, ATTEMPT_OUTCOMES)
    key = str(attempt_id)
    row = session.get(VerificationAttemptRow, int(key)) if key.isdigit() else None
    if row is None:
        raise InvalidRequest("no pending verification attempt with that id")
    if outcome == "refused":
        session.delete(row)  # never compared: it says nothing about anyone's guesses
    else:
        row.succeeded = outcome == "succeeded"


def _case_by_request_key(session: Session, key: str, customer_id: str) -> Optional[Case]:
    """The case `key` opened, if any (never another customer's)."""
    row = session.scalars(select(CaseRow).where(CaseRow.request_key == key)).one_or_none()
    if row is None:
        return None
    if row.customer_id != customer_id:
        raise InvalidRequest("that request_key already opened a case for another customer")
    return case_record(row)


def _open_case(session: Session, new_case: NewCase) -> Case:
    if not isinstance(new_case, NewCase):
        raise InvalidRequest("open_case needs a NewCase")
    key = require_request_key(new_case.request_key)
    customer = _customer_row(session, new_case.customer_id)
    if key is not None:
        opened = _case_by_request_key(session, key, customer.id)
        if opened is not None:
            return opened  # the same request again (a turn run twice): its case, as it is now
    number = None
    if new_case.order_number is not None:
        order = _order_row(session, new_case.order_number)
        if order.customer_id != customer.id:
            raise InvalidRequest("that order belongs to another customer")
        number = order.number
    reasons = [clean_text(reason, 500) for reason in new_case.severity_reasons]
    now = naive_utcnow()
    row = CaseRow(
        id=new_id("CS"), customer_id=customer.id, order_number=number,
        category=require_category(new_case.category),
        severity=require_choice("severity", new_case.severity, SEVERITIES),
        severity_score=require_score(new_case.severity_score),
        severity_reasons=json.dumps(reasons, ensure_ascii=False),
        status=require_choice("status", new_case.status, CASE_STATUSES),
        description=clean_text(new_case.description, MAX_DESCRIPTION_CHARS),
        created_at=now, updated_at=now, request_key=key,
    )
    if key is None:
        session.add(row)
        session.flush()
        return case_record(row)
    try:
        with session.begin_nested():  # a savepoint: a twin's insert only undoes this one
            session.add(row)
    except IntegrityError:
        # A concurrent open with the same key committed first (the unique index said so).
        opened = _case_by_request_key(session, key, customer.id)
        if opened is None:
            raise  # another constraint: a database error like any other
        return opened
    return case_record(row)


def _update_case(
    session: Session, case_id: str, status: Optional[str], resolution: Optional[str],
    resolved: Optional[bool], csat: Optional[int], add_detail: Optional[str] = None,
) -> Case:
    row = _case_row(session, case_id)
    if add_detail is not None:
        detail = clean_text(add_detail, MAX_DESCRIPTION_CHARS)
        if detail:
            row.description = clean_text(f"{row.description}\n{detail}", MAX_DESCRIPTION_CHARS)
    if status is not None:
        row.status = require_choice("status", status, CASE_STATUSES)
    if resolution is not None:
        row.resolution = clean_text(resolution, MAX_DESCRIPTION_CHARS)
    if resolved is not None:
        if not isinstance(resolved, bool):
            raise InvalidRequest("resolved must be true or false")
        row.resolved = resolved
    if csat is not None:
        row.csat = require_csat(csat)
    row.updated_at = naive_utcnow()
    session.flush()
    return case_record(row)


def _make_offer(session: Session, case_id: str, kind: str, amount: Optional[float]) -> Offer:
    case = _case_row(session, case_id)
    row = OfferRow(
        id=new_id("OF"), case_id=case.id, kind=require_choice("kind", kind, OFFER_KINDS),
        amount=require_amount(amount), status="offered", created_at=naive_utcnow(),
    )
    session.add(row)
    session.flush()
    return offer_record(row)


def _settle_offer(session: Session, offer_id: str, accepted: bool) -> Offer:
    if not isinstance(accepted, bool):
        raise InvalidRequest("accepted must be true or false")
    key = clean_key(offer_id)
    row = session.get(OfferRow, key, with_for_update=True) if key else None
    if row is None:
        raise OfferNotFound("no offer with that id")
    wanted = "accepted" if accepted else "declined"
    if row.status == wanted:
        return offer_record(row)  # settling twice the same way is a no-op
    if row.status != "offered":
        raise InvalidRequest(f"that offer was already {row.status}")
    row.status, row.settled_at = wanted, naive_utcnow()
    if accepted and row.kind == "voucher":
        row.voucher_code = _unused_voucher_code(session)
    session.flush()
    return offer_record(row)


def _unused_voucher_code(session: Session) -> str:
    for _ in range(5):
        code = new_voucher_code()
        if session.scalar(select(OfferRow.id).where(OfferRow.voucher_code == code)) is None:
            return code  # the unique index still guards a concurrent twin
    raise CrmUnavailable("could not issue a unique voucher code")


def _offers_for_case(session: Session, case_id: str) -> tuple[Offer, ...]:
    case = _case_row(session, case_id)
    rows = session.scalars(
        select(OfferRow).where(OfferRow.case_id == case.id)
        .order_by(OfferRow.created_at, OfferRow.id)
    ).all()
    return tuple(offer_record(row) for row in rows)


def _add_interaction(
    session: Session, customer_id: str, channel: str, kind: str, summary: str
) -> None:
    customer = _customer_row(session, customer_id)
    session.add(InteractionRow(
        customer_id=customer.id, at=naive_utcnow(), channel=clean_text(channel, 32) or "unknown",
        kind=clean_text(kind, 32) or "note", summary=clean_text(summary, MAX_SUMMARY_CHARS),
    ))
