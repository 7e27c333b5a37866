"""Verifying that a chat user is the customer on an order, before any CRM data is shown.

Verification is order number plus the e-mail address or delivery postcode on that order.
The answer never reveals which part was wrong or whether the order exists, and after
`MAX_FAILED_ATTEMPTS` failures in an hour (per conversation and per order) it stops trying.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from bot.crm.interface import Crm, CrmUnavailable, OrderNotFound

MAX_FAILED_ATTEMPTS = 3
ATTEMPT_WINDOW = timedelta(hours=1)

_ORDER_EXACT = re.compile(r"#?\s*RP\s*[-‐–]?\s*(\d{6})", re.IGNORECASE)
_ORDER_IN_TEXT = re.compile(r"\bRP\s?[-‐–]?\s?(\d{6})\b", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}")
_POSTCODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]{1,8}[A-Za-z0-9]")
_MAX_ORDER_TEXT = 200
_MAX_EMAIL = 254


def parse_order_number(text: Optional[str]) -> Optional[str]:
    """The canonical order number ("RP-123456") in what the customer typed, or None."""
    if not text or len(text) > _MAX_ORDER_TEXT:
        return None
    text = text.strip()
    exact = _ORDER_EXACT.fullmatch(text)
    if exact:
        return f"RP-{exact.group(1)}"
    found = {f"RP-{match.group(1)}" for match in _ORDER_IN_TEXT.finditer(text)}
    return found.pop() if len(found) == 1 else None


def parse_contact(text: Optional[str]) -> Optional[str]:
    """An e-mail address (lower-cased) or postcode (upper-cased, single spaces), or None."""
    if not text or len(text) > _MAX_EMAIL:
        return None
    text = text.strip().strip(".,;!")
    if "@" in text:
        return text.lower() if _EMAIL.fullmatch(text) else None
    if _POSTCODE.fullmatch(text) and any(ch.isdigit() for ch in text):
        return normalise_postcode(text)
    return None


def normalise_postcode(postcode: str) -> str:
    return " ".join(postcode.upper().replace("-", " ").split())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def phone_digits(phone: Optional[str]) -> str:
    """The last nine digits: the same number written +31 6…, 0031 6… or 06… compares equal."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits[-9:] if len(digits) >= 8 else ""


def contact_matches(order_email: str, order_postcode: str, contact: str) -> bool:
    """Does the e-mail or postcode the customer gave match the order? Constant-time."""
    if "@" in contact:
        return _same(order_email.strip().lower(), contact)
    given = contact.replace(" ", "")
    return _same(normalise_postcode(order_postcode).replace(" ", ""), given)


@dataclass(frozen=True)
class VerificationResult:
    status: str  # verified | mismatch | locked
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    attempts_left: int = 0


async def attempts_left(crm: Crm, conversation_id: str, order_number: Optional[str],
                        now: datetime) -> int:
    """Failed attempts still allowed in the window (0 means locked)."""
    since = now - ATTEMPT_WINDOW
    by_conversation = await crm.count_failed_verifications(conversation_id=conversation_id, since=since)
    by_order = 0
    if order_number:
        by_order = await crm.count_failed_verifications(order_number=order_number, since=since)
    return max(0, MAX_FAILED_ATTEMPTS - max(by_conversation, by_order))


async def verify_customer(crm: Crm, conversation_id: str, order_number: str, contact: str,
                          now: Optional[datetime] = None,
                          attested_phone: bool = False) -> VerificationResult:
    """Check order number + contact; records the attempt. Raises CrmUnavailable.

    `attested_phone`: `contact` is a phone number the messaging app vouches for (a Telegram
    user sharing their own contact), so it may stand in for the e-mail or postcode.
    """
    now = now or datetime.now(timezone.utc)
    if await attempts_left(crm, conversation_id, order_number, now) == 0:
        return VerificationResult("locked")
    try:
        order = await crm.get_order(order_number)
        if attested_phone:
            owner = await crm.get_customer(order.customer_id)
            given, known = phone_digits(contact), phone_digits(owner.phone)
            matched = bool(given) and _same(given, known)
        else:
            matched = contact_matches(order.email, order.postcode, contact)
    except OrderNotFound:
        order, matched = None, False
    await crm.record_verification_attempt(conversation_id=conversation_id,
                                          order_number=order_number, succeeded=matched)
    if not matched or order is None:
        left = await attempts_left(crm, conversation_id, order_number, now)
        return VerificationResult("locked" if left == 0 else "mismatch", attempts_left=left)
    customer = await crm.get_customer(order.customer_id)
    return VerificationResult("verified", customer.id, customer.name.split()[0], MAX_FAILED_ATTEMPTS)


__all__ = [
    "CrmUnavailable", "MAX_FAILED_ATTEMPTS", "VerificationResult", "attempts_left",
    "contact_matches", "parse_contact", "parse_order_number", "verify_customer",
]
