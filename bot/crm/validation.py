"""Checks and clean-ups every CRM backend applies to what callers pass in.

Order numbers and ids often come from what a customer typed, so they are normalised and
checked here before any backend sees them: a value that cannot be a key is simply not
found, and never reaches a query, a URL or a log line.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Optional

from bot.crm.errors import InvalidRequest

ORDER_STATUSES = ("placed", "packed", "shipped", "delivered", "lost", "returned", "cancelled")
TIERS = ("standard", "vip")
SEVERITIES = ("low", "medium", "high", "critical")
CASE_STATUSES = ("open", "offered", "resolved", "needs_human", "callback", "closed")
OPEN_CASE_STATUSES = ("open", "offered", "needs_human", "callback")
OFFER_KINDS = ("refund", "replacement", "voucher", "callback")
OFFER_STATUSES = ("offered", "accepted", "declined")

ORDER_NUMBER_RE = re.compile(r"^RP-\d{6}$")
_LOOSE_ORDER_NUMBER = re.compile(r"^#?\s*RP\s*[-_ ]?\s*(\d{6})$", re.IGNORECASE)
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_CHANNEL_USER_RE = re.compile(r"^[A-Za-z0-9._:@+=-]{1,128}$")
_CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

MAX_DESCRIPTION_CHARS = 20_000
MAX_SUMMARY_CHARS = 2_000


def normalise_order_number(raw: object) -> Optional[str]:
    """The canonical order number ("rp 100001" → "RP-100001"), or None if it cannot be one."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    text = raw.strip()
    loose = _LOOSE_ORDER_NUMBER.match(text)
    if loose:
        return f"RP-{loose.group(1)}"
    text = text.lstrip("#").strip()
    return text if _KEY_RE.match(text) else None


def clean_key(raw: object) -> Optional[str]:
    """An id (customer, case, offer) as given, or None if it cannot be one."""
    if isinstance(raw, str) and _KEY_RE.match(raw):
        return raw
    return None


def clean_channel_user(channel: object, channel_user_id: object) -> Optional[tuple[str, str]]:
    """(channel, user id) if both can be keys, else None."""
    if not isinstance(channel, str) or not _CATEGORY_RE.match(channel) or len(channel) > 32:
        return None
    if not isinstance(channel_user_id, str) or not _CHANNEL_USER_RE.match(channel_user_id):
        return None
    return channel, channel_user_id


def clean_text(raw: object, max_chars: int) -> str:
    """Free text without control characters (PostgreSQL rejects NUL), cut to a length."""
    text = _CONTROL.sub("", str(raw))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def attempt_key(order_number: object) -> str:
    """What a verification attempt is logged under: the order number, or a clean stub."""
    return normalise_order_number(order_number) or clean_text(order_number, 64)


def require_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidRequest(f"{name} must be one of {', '.join(choices)}")
    return str(value)


def require_category(value: object) -> str:
    if not isinstance(value, str) or not _CATEGORY_RE.match(value):
        raise InvalidRequest("category must be a short lower-case key such as 'damaged'")
    return value


def require_amount(value: object, name: str = "amount") -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(f"{name} must be a number")
    if value < 0 or value >= 1e9:
        raise InvalidRequest(f"{name} must be between 0 and 999,999,999.99")
    return round(float(value), 2)


def require_score(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest("severity_score must be a finite number")
    return float(value)


def require_csat(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidRequest("csat must be an integer from 1 to 5")
    return value


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def naive_utc(moment: datetime) -> datetime:
    """The naive UTC datetime the database stores."""
    return as_utc(moment).replace(tzinfo=None)


MAX_REQUEST_KEY_CHARS = 200  # cases.request_key is a String(200)


def require_request_key(value: object) -> Optional[str]:
    """The idempotency key as given (None: no key), or `InvalidRequest` saying why not.

    A key is 1 to 200 printable characters without surrounding spaces, so it survives an
    HTTP header (`Idempotency-Key`) unchanged.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_REQUEST_KEY_CHARS \
            or not value.isprintable() or value != value.strip():
        raise InvalidRequest(
            f"request_key must be 1 to {MAX_REQUEST_KEY_CHARS} printable characters "
            "without leading or trailing spaces")
    return value
