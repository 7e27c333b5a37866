"""A known week of exchanges, written straight into the log, for the dashboard's tests.

The week of 2026-11-01 to 2026-11-08: eight conversations on webchat, Telegram and an
unknown channel (order status, complaints with an accepted and a declined remedy, a
handoff after misunderstood messages, praise and a suggestion), two outside the week, and
four handoffs. Test modules assert the numbers this must give, worked out by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Optional

from sqlalchemy import MetaData, insert
from sqlalchemy.engine import Connection, Engine

from bot.database import make_engine
from bot.handoff.tables import create_hub_tables, handoffs, metadata as hub_metadata
from bot.insight.period import Period
from bot.insight.tables import create_insight_tables, metadata as insight_metadata
from tests.bot.insight.exchange_rows import add_conversation
from tests.support.postgres import DbSchema

SINCE = datetime(2026, 11, 1)
UNTIL = datetime(2026, 11, 8)
WEEK = Period(SINCE, UNTIL)
HOSTILE = '<script>alert("x")</script>'
RAW_EMAIL = "ann.customer@example.com"


def _both_schemas(url: str) -> None:
    engine = make_engine(url)
    try:
        create_insight_tables(engine)
        create_hub_tables(engine)
    finally:
        engine.dispose()


def _all_tables() -> MetaData:
    combined = MetaData()
    for table in (*hub_metadata.sorted_tables, *insight_metadata.sorted_tables):
        table.to_metadata(combined)
    return combined


# The exchange log and the handoff tables share the hub database.
HUB_WITH_LOG = DbSchema("rapport_insight_metrics_test", "hub.db", create=_both_schemas,
                        metadata=_all_tables())


def _c(intent: str, text: str, **more: Any) -> dict[str, Any]:
    return {"role": "customer", "intent": intent, "text": text, **more}


def _b(action: str, text: str = "…", response: Optional[str] = None) -> dict[str, Any]:
    return {"role": "bot", "action": action, "text": text, "response": response}


def _product(product: str, issue: str = "") -> list[dict[str, str]]:
    found = [{"entity": "product", "value": product}]
    return found + ([{"entity": "issue_type", "value": issue}] if issue else [])


def _day(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour)


CONVERSATIONS: list[tuple[str, datetime, dict[str, Any], list[dict[str, Any]]]] = [
    ("wc-1", _day(2, 10), dict(channel="webchat", outcome="contained", csat=5,
                               first_sentiment=0.1, last_sentiment=0.5),
     [_c("greet", f"hi, I'm {RAW_EMAIL}"), _b("utter_greet", "Hello!"),
      _c("ask_order_status", "where is my order"), _b("action_order_status", "It ships today")]),
    ("wc-2", _day(2, 12), dict(channel="webchat", outcome="contained", csat=4, case_id="CASE-1",
                               first_sentiment=-0.6, last_sentiment=0.2),
     [_c("complain", "my kettle arrived broken", entities=_product("Kettle", "damaged")),
      _b("action_submit_complaint"), _c("affirm", "yes please"),
      _b("action_accept_remedy", "Done: your refund is on its way",
         "utter_remedy_confirmed_refund")]),
    ("wc-3", _day(3, 9), dict(channel="webchat", outcome="contained", csat=2, case_id="CASE-2",
                              first_sentiment=-0.5, last_sentiment=-0.7),
     [_c("complain", "the kettle is late", entities=_product("Kettle", "late")),
      _b("action_submit_complaint"), _c("deny", "no"), _b("action_decline_remedy")]),
    ("tg-4", _day(3, 15), dict(channel="telegram", outcome="contained", csat=3, case_id="CASE-3",
                               first_sentiment=-0.4, last_sentiment=0.0),
     [_c("complain", "toaster burnt", entities=_product("Toaster", "damaged")),
      _b("action_submit_complaint"), _c("affirm", "ok"),
      _b("action_accept_remedy", "Done", "utter_remedy_confirmed_voucher")]),
    ("tg-5", _day(4, 8), dict(channel="telegram", outcome="escalated", csat=4, handoff_id="H1",
                              fallbacks=2, first_sentiment=-0.2, last_sentiment=0.1),
     [_c("nlu_fallback", "asdf"), _b("action_default_fallback"), _c("nlu_fallback", "qwer"),
      _b("action_default_fallback"), _c("request_human", "a person please"),
      _b("action_handoff"), {"role": "agent", "text": "Hi, I'm Sam"}]),
    ("tg-6", _day(5, 11), dict(channel="telegram", outcome="abandoned", fallbacks=1,
                               first_sentiment=0.0),
     [_c("suggest", "you should sell this in a bigger size", entities=_product("Kettle")),
      _b("utter_default")]),
    ("wc-7", _day(6, 10), dict(channel="webchat", outcome="contained", csat=5,
                               first_sentiment=0.6, last_sentiment=0.8),
     [_c("praise", "love the toaster", entities=_product("Toaster")),
      _b("utter_thank_feedback")]),
    ("x-9", _day(7, 20), dict(channel=None, outcome="contained"),
     [_c("praise", "great stuff", entities=_product(HOSTILE))]),
    # outside the week: before it, and at its (exclusive) end
    ("wc-old", datetime(2026, 10, 20, 9), dict(channel="webchat", outcome="contained", csat=1),
     [_c("greet", "hello")]),
    ("wc-late", UNTIL, dict(channel="webchat", outcome="escalated", csat=1),
     [_c("greet", "hello")]),
]

# (id, channel, created, claimed after): waits of 150 s (telegram) and 60 s (webchat) in the
# week; one never claimed; one claimed but created before the week.
HANDOFFS = [("H1", "telegram", _day(4, 8) + timedelta(minutes=5), timedelta(seconds=150)),
            ("H2", "webchat", _day(5, 9), timedelta(seconds=60)),
            ("H3", "telegram", _day(6, 9), None),
            ("H4", "webchat", datetime(2026, 10, 30, 9), timedelta(seconds=30))]


def add_known_exchanges(engine: Engine) -> None:
    """Write the week's conversations, turns and handoffs."""
    for conversation_id, started, columns, said in CONVERSATIONS:
        # every turn on its conversation's channel, as the consumer writes them
        said = [{**turn, "channel": columns["channel"]} for turn in said]
        add_conversation(engine, conversation_id, started, turns_said=said, **columns)
    with engine.begin() as connection:
        for handoff_id, channel, created, waited in HANDOFFS:
            connection.execute(insert(handoffs).values(
                id=handoff_id, conversation_id=f"conv-{handoff_id}", channel=channel,
                state="assigned" if waited else "waiting", reason="customer asked for a person",
                created_at=created, assigned_at=created + waited if waited else None))


def known_week(make_db_url: Callable[[DbSchema], str]) -> Iterator[Connection]:
    """For a fixture: a connection to a hub database (from the suite's `make_db_url`)
    holding the known week."""
    engine = make_engine(make_db_url(HUB_WITH_LOG))
    add_known_exchanges(engine)
    with engine.connect() as opened:
        yield opened
    engine.dispose()
