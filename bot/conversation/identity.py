"""Verifying that a chat user is the customer on an order, before any CRM data is shown.

Verification is order number plus the e-mail address or delivery postcode on that order (or,
on Telegram, the customer's own phone number, which Telegram vouches for). The answer never
reveals which part was wrong or whether the order exists.

Guessing is limited (`VerificationLimits`) on keys an attacker cannot reset by opening a new
conversation: per conversation, per (order, client), per (contact, client), per client, and a
breaker in two parts: many failures with one contact detail pause that contact detail, and
failures with many different contact details pause guessable verification for everyone. The
order is never locked for everyone, and a contact under attack only pauses that contact, so
a stranger's guesses cannot lock the real customer out: they still verify with their other
detail (postcode or e-mail), their Telegram phone, or a remembered identity. Each attempt is
reserved in the CRM (pending counts as failed) before anything is compared, so parallel
guesses cannot all see the same number of tries left.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Optional

from bot.crm.interface import AttemptCounts, AttemptKeys, Crm, CrmUnavailable, OrderNotFound

log = logging.getLogger(__name__)

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


_ORDER_ANYWHERE = re.compile(r"(?<![\w-])(?:#\s?)?RP\s?[-‐–]?\s?(\d{6})(?!\d)", re.IGNORECASE)
_BARE_ORDER = re.compile(r"(?<![\w-])(\d{6})(?![\w-])")
_EMAIL_ANYWHERE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,7}"
    r"\.[A-Za-z]{2,24}\b")
# Dutch (1012 AB), or digits after a word that says it is a postcode (10115, SW1A 1AA).
_NL_POSTCODE = re.compile(r"(?<![\w-])(\d{4}) ?([A-Za-z]{2})(?![\w-])")
_CUED_POSTCODE = re.compile(
    r"\b(?:post ?code|postal code|zip(?: ?code)?|plz)\b\W{0,3}(?:is\W{1,3})?"
    r"([A-Za-z0-9]{2,5}(?: ?[A-Za-z0-9]{2,4})?)(?!\w)", re.IGNORECASE)
_NUMERIC_POSTCODE = re.compile(r"(?<![\w+-])\d{4,5}(?![\w-])")
_SEARCH_LIMIT = 2000


def find_order_number(text: Optional[str], bare_digits: bool = False) -> Optional[str]:
    """The one order number a message names anywhere ("rp 100001", "#RP-100001"), or None.

    Two different numbers are ambiguous (None). `bare_digits` also takes "100001" on its own,
    for when the order number is exactly what was asked.
    """
    text = (text or "")[:_SEARCH_LIMIT]
    found = {f"RP-{m.group(1)}" for m in _ORDER_ANYWHERE.finditer(text)}
    if not found and bare_digits:
        found = {f"RP-{m.group(1)}" for m in _BARE_ORDER.finditer(text)}
    return found.pop() if len(found) == 1 else None


def find_contact(text: Optional[str], asked: bool = False) -> Optional[str]:
    """An e-mail address or postcode in a message, or None.

    An e-mail address counts anywhere; a postcode when it has the Dutch shape, follows a word
    like "postcode", or (when the contact detail is what was asked) is the whole answer.
    """
    text = (text or "")[:_SEARCH_LIMIT]
    email = _EMAIL_ANYWHERE.search(text)
    if email:
        return email.group(0).lower()
    dutch = _NL_POSTCODE.search(_ORDER_ANYWHERE.sub(" ", text))
    if dutch:
        return normalise_postcode(f"{dutch.group(1)} {dutch.group(2)}")
    cued = _CUED_POSTCODE.search(text)
    if cued and any(ch.isdigit() for ch in cued.group(1)):
        return normalise_postcode(cued.group(1))
    if asked:
        whole = parse_contact(text)
        if whole:
            return whole
        # "try the postcode instead: 1000": the one postcode-like number in the answer.
        numbers = {m.group(0) for m in _NUMERIC_POSTCODE.finditer(_ORDER_ANYWHERE.sub(" ", text))}
        return numbers.pop() if len(numbers) == 1 else None
    return None


def normalise_postcode(postcode: str) -> str:
    return " ".join(postcode.upper().replace("-", " ").split())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ITU country calling codes are prefix-free: 1 and 7 are one digit, these two, the rest three.
_TWO_DIGIT_CALLING_CODES = frozenset({
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55,
    56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
})
_PHONE_TEXT = re.compile(r"\+?[0-9][0-9 ()\-./]{3,38}")


def calling_code(e164: Optional[str]) -> Optional[str]:
    """The country calling code of an E.164 number ("+31 20 555 0142" → "31"), or None."""
    number = normalise_phone(e164)
    if number is None:
        return None
    digits = number[1:]
    if digits[0] in "17":
        return digits[0]
    return digits[:2] if int(digits[:2]) in _TWO_DIGIT_CALLING_CODES else digits[:3]


def normalise_phone(raw: Optional[str], default_calling_code: Optional[str] = None) -> Optional[str]:
    """The number in E.164 ("+31612345678"), or None when it cannot be one for sure.

    "+31 6 1234 5678", "0031 6-1234-5678" and "+31 (0)6 12345678" are international; a
    national "06 1234 5678" needs the brand's default calling code; anything else (letters,
    no prefix, too short or long) is None rather than a guess.
    """
    if not isinstance(raw, str) or not _PHONE_TEXT.fullmatch(raw.strip()):
        return None
    text = raw.strip()
    international = text.startswith(("+", "00"))
    if international:
        text = text.replace("(0)", "", 1)
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+"):  # "+31 …" already has its calling code
        if digits.startswith("00"):
            digits = digits[2:]
        elif digits.startswith("0") and default_calling_code and default_calling_code.isdigit():
            digits = default_calling_code + digits[1:]
        else:
            return None
    if not 8 <= len(digits) <= 15 or digits[0] == "0":
        return None
    return "+" + digits


def contact_matches(order_email: str, order_postcode: str, contact: str) -> bool:
    """Does the e-mail or postcode the customer gave match the order? Constant-time."""
    if "@" in contact:
        return _same(order_email.strip().lower(), contact)
    given = contact.replace(" ", "")
    return _same(normalise_postcode(order_postcode).replace(" ", ""), given)


@dataclass(frozen=True)
class VerificationLimits:
    """How many failures each key may have in its window before verification stops.

    `per_conversation`, `per_order_client` and `per_contact_client` lock one client out of
    one conversation, order or contact; `per_client` stops one client guessing across many
    orders. The breaker, over everyone's failures in `breaker_window`: `breaker_failures` with
    one contact detail pause verification with that detail (someone is working through order
    numbers against one e-mail); failures with `breaker_contacts` different details pause
    guessable verification (e-mail, postcode) for everybody (someone is spraying many). Both
    lift as the failures age out. A phone number the messaging app vouches for is not
    guessable, so it still works while the breaker is open.
    """

    per_conversation: int = MAX_FAILED_ATTEMPTS
    per_order_client: int = MAX_FAILED_ATTEMPTS
    per_contact_client: int = MAX_FAILED_ATTEMPTS
    per_client: int = 10
    window: timedelta = ATTEMPT_WINDOW
    breaker_failures: int = 10
    breaker_contacts: int = 100
    breaker_window: timedelta = timedelta(minutes=15)

    def attempts_left(self, counts: AttemptCounts) -> int:
        """Failures still allowed to this client before it is locked (0: locked)."""
        return max(0, min(self.per_conversation - counts.conversation,
                          self.per_order_client - counts.order_client,
                          self.per_contact_client - counts.contact_client,
                          self.per_client - counts.client))

    def breaker_open(self, counts: AttemptCounts) -> bool:
        return (counts.contact >= self.breaker_failures
                or counts.contacts >= self.breaker_contacts)


@dataclass(frozen=True)
class VerificationResult:
    status: str  # verified | mismatch | locked | paused (the breaker is open)
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    attempts_left: int = 0


@lru_cache(maxsize=1)
def _process_secret() -> bytes:
    log.warning("RAPPORT_VERIFICATION_SECRET is not set: contact hashes are per process")
    return secrets.token_bytes(32)


def contact_hash(contact: str, secret: Optional[bytes] = None) -> str:
    """HMAC-SHA256 of a normalised contact detail under the server's secret (hex)."""
    key = secret or _process_secret()
    return hmac.new(key, contact.encode("utf-8"), hashlib.sha256).hexdigest()


async def verify_customer(crm: Crm, conversation_id: str, order_number: str, contact: str,
                          now: Optional[datetime] = None, attested_phone: bool = False, *,
                          client: Optional[str] = None,
                          limits: VerificationLimits = VerificationLimits(),
                          secret: Optional[bytes] = None,
                          default_calling_code: Optional[str] = None) -> VerificationResult:
    """Check order number + contact; reserves, then settles, the attempt. Raises CrmUnavailable.

    `client` is who is asking ("telegram:42", "webchat:<creator>"; default: the
    conversation). `attested_phone`: `contact` is a phone number the messaging app vouches
    for (a Telegram user sharing their own contact), so it may stand in for the e-mail or
    postcode, compared as E.164 with the brand's `default_calling_code` for national numbers.
    """
    now = now or datetime.now(timezone.utc)
    given_phone = normalise_phone(contact, default_calling_code) if attested_phone else None
    hashed = contact_hash(("phone:" + (given_phone or "")) if attested_phone
                          else "contact:" + contact.replace(" ", ""), secret)
    keys = AttemptKeys(conversation_id=conversation_id, order_number=order_number,
                       client=client or f"conversation:{conversation_id}", contact_hash=hashed)
    reservation = await crm.reserve_verification_attempt(
        keys, since=now - limits.window, breaker_since=now - limits.breaker_window)
    counts = reservation.counts
    refusal = None
    if limits.attempts_left(counts) == 0:
        refusal = "locked"
    elif limits.breaker_open(counts) and not attested_phone:
        refusal = "paused"
    if refusal:
        await crm.settle_verification_attempt(reservation.attempt_id, "refused")
        if refusal == "paused":
            log.warning("verification paused: %d failures with this contact detail, %d "
                        "contact details failing, in %s", counts.contact, counts.contacts,
                        limits.breaker_window)
        return VerificationResult(refusal)
    try:
        matched, customer_id = await _compare(crm, order_number, contact, given_phone,
                                              attested_phone, default_calling_code)
    except Exception:
        await crm.settle_verification_attempt(reservation.attempt_id, "refused")
        raise
    await crm.settle_verification_attempt(reservation.attempt_id,
                                          "succeeded" if matched else "failed")
    if not matched or customer_id is None:
        left = max(0, limits.attempts_left(counts) - 1)
        return VerificationResult("locked" if left == 0 else "mismatch", attempts_left=left)
    customer = await crm.get_customer(customer_id)
    return VerificationResult("verified", customer.id, customer.name.split()[0],
                              limits.per_conversation)


async def _compare(crm: Crm, order_number: str, contact: str, given_phone: Optional[str],
                   attested_phone: bool, default_calling_code: Optional[str]
                   ) -> tuple[bool, Optional[str]]:
    try:
        order = await crm.get_order(order_number)
    except OrderNotFound:
        return False, None
    if attested_phone:
        owner = await crm.get_customer(order.customer_id)
        known = normalise_phone(owner.phone, default_calling_code)
        matched = bool(given_phone and known) and _same(given_phone or "", known or "")
    else:
        matched = contact_matches(order.email, order.postcode, contact)
    return matched, order.customer_id


__all__ = [
    "CrmUnavailable", "MAX_FAILED_ATTEMPTS", "VerificationLimits", "VerificationResult",
    "calling_code", "contact_hash", "contact_matches", "normalise_phone", "parse_contact",
    "parse_order_number", "verify_customer",
]
