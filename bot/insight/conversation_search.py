"""Finding conversations in the exchange log for analysts: filters, pages, CSV, transcripts.

The hub's `/api/insight/conversations` views are thin wrappers over this module, so every
rule here is tested without aiohttp. What each filter means:

- `since`, `until`: when the conversation started, UTC; a date (YYYY-MM-DD), an ISO 8601
  time, or `7d`/`24h` before now, read by `bot.insight.period` as the dashboard reads them:
  `until` is exclusive for a time and takes in the whole day for a bare date.
- `channel`, `outcome`: the conversation's own columns (outcome: contained, escalated or
  abandoned).
- `intent`: at least one customer turn was understood as that intent.
- `sentiment`: the conversation's last measured sentiment (its first if there is no last),
  labelled with VADER's convention (as `bot.nlu.sentiment.label_for`): positive at +0.05 or
  more, negative at -0.05 or less, neutral between. Conversations never measured match none.
- `handoff`: yes when a handoff was made (`handoff_id` set), no otherwise.
- `limit`, `offset`: a page; `offset` at most MAX_NUMBER (2**53).
- `product`: a turn carries an entity of type `product` with that value (any case). The
  exchange log knows what the customer named; a case's order lines live in the CRM, another
  database, and say what was bought rather than what the conversation was about.

Only the redacted exchange log is read, and a transcript's text is redacted once more on the
way out (a row written before a redaction rule existed): no e-mail, phone or card number can
come out.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import and_, case, cast, func, inspect, select, true, union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from bot.database import aware, utcnow
from bot.errors import RapportError
from bot.insight.period import PeriodError, parse_moment
from bot.insight.redaction import redact, redact_value
from bot.insight.tables import ENTITY_PARTS, OUTCOMES, conversations, turns

SENTIMENTS = ("negative", "neutral", "positive")
SENTIMENT_THRESHOLD = 0.05  # VADER's convention (bot.nlu.sentiment.label_for)
FORMATS = ("json", "csv")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # a page of JSON
MAX_CSV_LIMIT = 10_000  # one CSV export
MAX_TEXT = 128  # channel, intent and product values
MAX_NUMBER = 2**53  # the largest offset (SQL integers hold it; JSON numbers keep it exact)
PRODUCT_ENTITY = "product"

CSV_COLUMNS = ("conversation_id", "channel", "language", "started_at", "last_at",
               "customer_turns", "bot_turns", "outcome", "handoff", "handoff_id", "case_id",
               "customer_id", "csat", "first_sentiment", "last_sentiment", "fallbacks")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class SearchError(RapportError, ValueError):
    """A filter the API cannot use; the message says which and why."""


@dataclass(frozen=True)
class ConversationQuery:
    """What an analyst asked for."""

    since: Optional[datetime] = None
    until: Optional[datetime] = None
    channel: Optional[str] = None
    intent: Optional[str] = None
    sentiment: Optional[str] = None
    outcome: Optional[str] = None
    handoff: Optional[bool] = None
    product: Optional[str] = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    format: str = "json"

    def filters(self) -> dict[str, Any]:
        """The filters in use, for an audit entry or a response."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("limit", "offset", "format") and getattr(self, f.name) is not None}


def parse_query(params: Mapping[str, str]) -> ConversationQuery:
    """Check the query string's parameters; `SearchError` names the first bad one."""
    known = {f.name for f in fields(ConversationQuery)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SearchError(f"unknown parameter {unknown[0]!r}; use {', '.join(sorted(known))}")
    value = {name: (params.get(name) or "").strip() for name in known}
    fmt = value["format"] or "json"
    if fmt not in FORMATS:
        raise SearchError("format must be json or csv")
    now = utcnow()
    since = _moment("since", value["since"], now, end_of_day=False)
    until = _moment("until", value["until"], now, end_of_day=True)
    if since and until and since >= until:
        raise SearchError("since must be before until")
    for name, allowed in (("sentiment", SENTIMENTS), ("outcome", OUTCOMES)):
        if value[name] and value[name] not in allowed:
            raise SearchError(f"{name} must be one of {', '.join(allowed)}")
    if value["handoff"] not in ("", "yes", "no"):
        raise SearchError("handoff must be yes or no")
    for name in ("channel", "intent", "product"):
        if len(value[name]) > MAX_TEXT:
            raise SearchError(f"{name} is longer than {MAX_TEXT} characters")
    most = MAX_CSV_LIMIT if fmt == "csv" else MAX_LIMIT
    return ConversationQuery(
        since=since, until=until, channel=value["channel"] or None,
        intent=value["intent"] or None, sentiment=value["sentiment"] or None,
        outcome=value["outcome"] or None,
        handoff=None if not value["handoff"] else value["handoff"] == "yes",
        product=value["product"] or None,
        limit=_number("limit", value["limit"], most if fmt == "csv" else DEFAULT_LIMIT, 1, most),
        offset=_number("offset", value["offset"], 0, 0, MAX_NUMBER), format=fmt)


def _moment(name: str, raw: str, now: datetime, *, end_of_day: bool) -> Optional[datetime]:
    if not raw:
        return None
    try:
        return parse_moment(raw, now, end_of_day=end_of_day)
    except PeriodError:
        raise SearchError(f"{name} must be a date (YYYY-MM-DD), an ISO 8601 time, 7d or 24h, "
                          f"got {raw[:40]!r}") from None


def _number(name: str, raw: str, default: int, least: int, most: int) -> int:
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise SearchError(f"{name} must be a whole number") from None
    if not least <= number <= most:
        raise SearchError(f"{name} must be between {least} and {most}")
    return number


# -- queries ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConversationPage:
    total: int  # conversations matching, over all pages
    conversations: list[dict[str, Any]]


def search(connection: Connection, query: ConversationQuery) -> ConversationPage:
    """One page of matching conversations, newest first."""
    if not inspect(connection).has_table(conversations.name):
        return ConversationPage(0, [])
    conditions = _conditions(connection.dialect.name, query)
    total, rows = counted_page(connection, list(conversations.columns), conditions,
                               query.limit, query.offset, one_pass=query.product is not None)
    return ConversationPage(total, [conversation_json(row) for row in rows])


def counted_page(connection: Connection, columns: list[Any], conditions: list[Any],
                 limit: int, offset: int, one_pass: bool = False
                 ) -> tuple[int, list[dict[str, Any]]]:
    """How many conversations match, and one page of them, newest first.

    Two queries: the count, and a page that stops at its last row. `one_pass` (for filters
    whose every match must be found anyway, such as a product's) counts with
    `count(*) OVER ()` in the page's own query instead, so the filter runs once; otherwise
    PostgreSQL would walk the whole period row by row for the window.
    """
    c = conversations.c
    page = (select(*columns).where(*conditions).order_by(c.started_at.desc(), c.conversation_id)
            .limit(limit).offset(offset))
    count = select(func.count()).select_from(conversations).where(*conditions)
    if not one_pass:
        counted = int(connection.scalar(count) or 0)
        return counted, [dict(row) for row in connection.execute(page).mappings()]
    rows = connection.execute(page.add_columns(func.count().over().label("_total"))
                              ).mappings().all()
    if rows:
        counted = int(rows[0]["_total"])
    else:  # no row on this page (past the last one?): count on their own
        counted = int(connection.scalar(count) or 0) if offset else 0
    return counted, [{k: v for k, v in row.items() if k != "_total"} for row in rows]


def _conditions(dialect: str, query: ConversationQuery) -> list[Any]:
    c = conversations.c
    conditions: list[Any] = []
    if query.since is not None:
        conditions.append(c.started_at >= query.since)
    if query.until is not None:
        conditions.append(c.started_at < query.until)
    if query.channel:
        conditions.append(c.channel == query.channel)
    if query.outcome:
        conditions.append(c.outcome == query.outcome)
    if query.handoff is not None:
        conditions.append(c.handoff_id.isnot(None) if query.handoff else c.handoff_id.is_(None))
    if query.sentiment:
        mood = func.coalesce(c.last_sentiment, c.first_sentiment)
        conditions.append({"positive": mood >= SENTIMENT_THRESHOLD,
                           "negative": mood <= -SENTIMENT_THRESHOLD,
                           "neutral": and_(mood > -SENTIMENT_THRESHOLD,
                                           mood < SENTIMENT_THRESHOLD)}[query.sentiment])
    if query.intent:  # IN, not a correlated EXISTS: read from the intent index
        conditions.append(c.conversation_id.in_(select(turns.c.conversation_id).where(
            turns.c.intent == query.intent)))
    if query.product:
        conditions.append(names_product(dialect, query.product))
    return conditions


def names_product(dialect: str, product: str) -> Any:
    """A turn of the conversation has a `product` entity with this value (any case).

    Read as the conversations of the turns that named entities (`ENTITY_PARTS`), whose
    entity JSON contains the value as JSON spells it (`LIKE`: a cheap test that every
    match passes, for values in ASCII, where LIKE and lower() agree), then checked exactly.
    """
    if dialect == "postgresql":
        items = func.jsonb_array_elements(cast(turns.c.entities, JSONB)).table_valued(
            "value").alias("item")
        entity, value = items.c.value.op("->>")("entity"), items.c.value.op("->>")("value")
        text = func.lower(turns.c.entities)
    else:  # SQLite's JSON1 functions; text that is not JSON counts as no entities
        valid = case((func.json_valid(turns.c.entities) == 1, turns.c.entities), else_="[]")
        items = func.json_each(valid).table_valued("value").alias("item")
        entity = func.json_extract(items.c.value, "$.entity")
        value = func.json_extract(items.c.value, "$.value")
        text = turns.c.entities  # SQLite's LIKE ignores ASCII case
    wanted = product.lower()
    spelled = json.dumps(wanted, ensure_ascii=False)[1:-1]
    cheap = [text.contains(spelled, autoescape=True)] if spelled.isascii() else []
    named = union_all(*(select(turns.c.conversation_id).select_from(turns).join(items, true())
                        .where(part, *cheap, entity == PRODUCT_ENTITY, func.lower(value) == wanted)
                        for part in ENTITY_PARTS))
    return conversations.c.conversation_id.in_(named)


def conversation_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A conversation row as JSON-ready values (times in ISO 8601, UTC)."""
    body = {key: (aware(value).isoformat() if isinstance(value, datetime) else value)
            for key, value in row.items()}
    body["handoff"] = row.get("handoff_id") is not None
    return body


def transcript(connection: Connection, conversation_id: str) -> Optional[dict[str, Any]]:
    """One conversation and its redacted turns in order, or None if the log has no such one."""
    if not inspect(connection).has_table(conversations.name):
        return None
    row = connection.execute(select(conversations).where(
        conversations.c.conversation_id == conversation_id)).first()
    if row is None:
        return None
    body = conversation_json(row._mapping)
    body["turns"] = [_turn_json(turn._mapping) for turn in connection.execute(
        select(turns).where(turns.c.conversation_id == conversation_id)
        .order_by(turns.c.at, turns.c.id))]
    return body


def _turn_json(turn: Mapping[str, Any]) -> dict[str, Any]:
    body = {key: value for key, value in turn.items() if key != "event_key"}
    body["at"] = aware(turn["at"]).isoformat()
    body["text"] = redact(turn["text"]) if turn.get("text") else turn.get("text")
    try:
        body["entities"] = redact_value(json.loads(turn["entities"])) if turn["entities"] else []
    except ValueError:
        body["entities"] = []
    return body


# -- CSV ----------------------------------------------------------------------------------

def to_csv(page: ConversationPage) -> str:
    """The page as CSV, one conversation a row (cells that a spreadsheet would run as a
    formula start with a quote)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for conversation in page.conversations:
        writer.writerow([_cell(conversation.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
