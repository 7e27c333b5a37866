"""Rasa events as a broker publishes them: checked, and the fields the exchange log keeps.

`read_event` takes an event (a dict, or its JSON text or bytes) and its sender id and answers
the event with its time, or raises `Malformed` with a reason a person can act on (the log
sets the event aside with it). The other helpers turn an event's fields into values any
database accepts (no NUL, no lone surrogates, bounded lengths, finite numbers), with free
text and entity values redacted.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any, Optional

from bot.conversation.feedback import parse_rating
from bot.database import naive
from bot.insight.redaction import redact, redact_value

RAW_CHARS = 2000  # of a set-aside event
TEXT_CHARS = 10_000  # of a turn's text (channels cap messages well below this)
_EARLIEST, _LATEST = 946684800.0, 4102444800.0  # 2000-01-01 .. 2100-01-01, as Unix time
_FIELD_TYPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "user": {"text": str, "parse_data": dict, "input_channel": str, "metadata": dict},
    "bot": {"text": str, "data": dict, "metadata": dict},
    "action": {"name": str},
    "slot": {"name": str},
}
_REQUIRED = {"action": "name", "slot": "name"}


class Malformed(ValueError):
    """An event the log cannot read; the message is the reason it is set aside."""


def read_event(sender_id: Any, event: Any) -> tuple[str, dict[str, Any], datetime]:
    """(sender id, event, its time as naive UTC) if the event can be read, else Malformed."""
    if not isinstance(sender_id, str) or not sender_id.strip():
        raise Malformed("no sender id")
    if len(sender_id) > 128:
        raise Malformed("sender id longer than 128 characters")
    if isinstance(event, (bytes, str)):
        try:
            event = json.loads(event)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Malformed("not JSON") from None
    if not isinstance(event, dict):
        raise Malformed(f"not an event object (a {type(event).__name__})")
    kind = event.get("event")
    if not isinstance(kind, str) or not kind:
        raise Malformed("no event type")
    at = moment_of(event.get("timestamp"))
    required = _REQUIRED.get(kind)
    if required and not event.get(required):
        raise Malformed(f"{kind} event without {required}")
    for field, types in _FIELD_TYPES.get(kind, {}).items():
        value = event.get(field)
        if value is not None and not isinstance(value, types):
            raise Malformed(f"{kind} event: {field} is a {type(value).__name__}")
    if kind == "user":
        _check_parse_data(event.get("parse_data") or {})
    return sender_id, event, at


def _check_parse_data(parse: dict[str, Any]) -> None:
    intent = parse.get("intent")
    if intent is not None and not isinstance(intent, dict):
        raise Malformed(f"user event: intent is a {type(intent).__name__}")
    intent = intent or {}
    if intent.get("name") is not None and not isinstance(intent.get("name"), str):
        raise Malformed("user event: intent name is not text")
    confidence = intent.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or
                                   not isinstance(confidence, (int, float))):
        raise Malformed("user event: intent confidence is not a number")
    entities = parse.get("entities")
    if entities is not None and not isinstance(entities, list):
        raise Malformed(f"user event: entities is a {type(entities).__name__}")


def moment_of(timestamp: Any) -> datetime:
    """A Rasa timestamp (Unix seconds) as naive UTC; Malformed unless a plausible number."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise Malformed("no timestamp" if timestamp is None else "timestamp is not a number")
    if not (math.isfinite(timestamp) and _EARLIEST <= timestamp < _LATEST):
        raise Malformed("timestamp out of range")
    return naive(datetime.fromtimestamp(timestamp, timezone.utc))


def language_of(event: dict[str, Any]) -> Optional[str]:
    """The message's language, if NLU or the channel's metadata (language, locale) says."""
    parse = event.get("parse_data") or {}
    metadata = event.get("metadata") or {}
    for candidate in (parse.get("language"), metadata.get("language"), metadata.get("locale")):
        if isinstance(candidate, str) and candidate.strip():
            return clean(candidate.strip(), 8)
    return None


def entities_json(found: Any) -> Optional[str]:
    """The entities as JSON [{"entity", "value"}], values redacted (None when there are none)."""
    try:
        kept = [{"entity": clean(item["entity"], 128), "value": redact_value(item.get("value"))}
                for item in found or []
                if isinstance(item, dict) and isinstance(item.get("entity"), str)]
        encoded = json.dumps(kept, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # nested absurdly deep
        raise Malformed("user event: an entity value is nested too deep") from None
    return clean(encoded, TEXT_CHARS) if kept else None


def rating_of(value: Any) -> Optional[int]:
    """A `rating` slot's value as CSAT 1-5, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value) if value in (1, 2, 3, 4, 5) else None
    return parse_rating(str(value))


def redacted(text: Optional[str]) -> Optional[str]:
    """Free text as the log keeps it: cleaned, redacted, bounded."""
    if text is None:
        return None
    return clean(redact(clean(text, 20 * TEXT_CHARS)), TEXT_CHARS)


def clean(value: Optional[str], limit: int) -> Optional[str]:
    """Text any database accepts: no NUL, no lone surrogates, at most `limit` characters."""
    if value is None:
        return None
    text = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def str_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def finite(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def raw_text(event: Any) -> str:
    """Whatever arrived, as text (for a set-aside event; redact it before keeping it)."""
    if isinstance(event, bytes):
        return event.decode("utf-8", "replace")
    if isinstance(event, str):
        return event
    try:
        return json.dumps(event, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        try:
            return repr(event)[:RAW_CHARS * 20]
        except RecursionError:
            return f"<a {type(event).__name__} nested too deep to show>"
