"""Every store a privacy request touches, filled the way Rapport fills them, for two customers.

- Rasa's tracker store and SQL event broker: a real `SQLTrackerStore` streaming to a real
  `SQLEventBroker`, on SQLite files, saving real `DialogueStateTracker`s.
- The CRM: a copy of the seeded demo CRM, written through `SqlCrm` (identity links,
  interactions, a verification attempt).
- The hub database: handoffs and notes through `HandoffStore`, the exchange log, and the web
  chat's tables (made from `channels.webchat.tables`, which tests may import).
- The Telegram channel's store: an update and a dead letter per Telegram chat.

Ada (C-000000000001) has four conversations, each found through a different store: tg-101
(a linked Telegram identity, the exchange log, the tracker), webchat-ada (only her
`customer_id` slot in the tracker), webchat-ada-verify (only a verification that succeeded on
her order) and rest:shop:ada (only a handoff). Grace (C-000000000002) has tg-202, found
everywhere; tg-303 belongs to nobody and has turns from long ago (for `purge`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bot.crm.interface import AttemptKeys
from bot.crm.models import OrderRow
from bot.crm.sql import SqlCrm
from bot.database import make_engine, naive_utcnow
from bot.handoff.records import NewHandoff
from bot.handoff.store import HandoffStore
from bot.handoff.tables import Database, create_hub_tables
from bot.insight.tables import create_insight_tables
from bot.settings import Settings
from channels.telegram import tables as telegram_tables
from channels.webchat import tables as webchat_tables
from tests.bot.insight.exchange_rows import add_conversation
from tests.support import PROJECT

ADA, GRACE = "C-000000000001", "C-000000000002"
ADA_CONVERSATIONS = ("tg-101", "webchat-ada", "webchat-ada-verify", "rest:shop:ada")
GRACE_CONVERSATIONS = ("tg-202",)
OLD_DAYS = 400  # older than the default retention of 365 days


@dataclass
class World:
    settings: Settings
    crm: Engine
    hub: Engine
    tracker_events: dict[str, int]  # events Rasa stored per conversation
    ada_order: str

    def close(self) -> None:
        self.crm.dispose()
        self.hub.dispose()


def _rasa_stores(tracker_db: Path, events_db: Path):
    from rasa.core.brokers.sql import SQLEventBroker
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_db),
                           event_broker=SQLEventBroker(dialect="sqlite", db=str(events_db)))


def _events(text: str, customer_id: str | None, at: datetime, channel: str) -> list:
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    moment = at.timestamp()
    events = [ActionExecuted("action_listen", timestamp=moment),
              UserUttered(text, {"name": "order_status", "confidence": 0.9},
                          timestamp=moment + 1, input_channel=channel)]
    if customer_id:
        events.append(SlotSet("customer_id", customer_id, timestamp=moment + 2))
    events.append(BotUttered("Thanks, let me look that up.", timestamp=moment + 3))
    return events


async def build_world(tmp_path: Path, crm_url: str) -> World:
    from rasa.shared.core.trackers import DialogueStateTracker

    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env({
        "RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
        "RAPPORT_CRM_URL": crm_url, "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "RAPPORT_TRACKER_DB": str(tmp_path / "tracker.db"),
        "RAPPORT_EVENTS_DB": str(tmp_path / "events.db"),
        "RAPPORT_TELEGRAM_DB_URL": f"sqlite:///{tmp_path / 'telegram.db'}"})
    now = datetime.now().astimezone()
    old = now - timedelta(days=OLD_DAYS)
    conversations = {
        "tg-101": _events("where is order RP-1? ada@example.com", ADA, now, "telegram"),
        "webchat-ada": _events("it's Ada Lovelace, +31 6 1234 5678", ADA, now, "webchat"),
        "webchat-ada-verify": _events("my order please", None, now, "webchat"),
        "rest:shop:ada": _events("I want a person", None, now, "rest"),
        "tg-202": _events("grace@example.org here", GRACE, now, "telegram"),
        "tg-303": _events("hello from long ago", None, old, "telegram")
        + _events("hello again today", None, now, "telegram"),
    }
    store = _rasa_stores(Path(settings.tracker_db), Path(settings.events_db))
    for sender, events in conversations.items():
        await store.save(DialogueStateTracker.from_events(sender, events))
    store.engine.dispose()
    store.event_broker.engine.dispose()

    crm_engine = make_engine(crm_url)
    crm = SqlCrm(crm_engine)
    await crm.link_identity("telegram", "tg-101", ADA)
    await crm.link_identity("telegram", "tg-202", GRACE)
    await crm.add_interaction(ADA, "telegram", "verified", "Verified in chat")
    await crm.add_interaction(GRACE, "telegram", "verified", "Verified in chat")
    with crm_engine.connect() as connection:
        ada_order = connection.scalar(select(OrderRow.number).where(
            OrderRow.customer_id == ADA).order_by(OrderRow.number).limit(1))
        grace_order = connection.scalar(select(OrderRow.number).where(
            OrderRow.customer_id == GRACE).order_by(OrderRow.number).limit(1))
    for conversation, order in (("webchat-ada-verify", ada_order), ("tg-202", grace_order)):
        keys = AttemptKeys(conversation, order, f"webchat:{conversation}",
                           secrets.token_hex(16))
        since = datetime.now().astimezone() - timedelta(hours=1)
        reservation = await crm.reserve_verification_attempt(keys, since=since,
                                                             breaker_since=since)
        await crm.settle_verification_attempt(reservation.attempt_id, "succeeded")

    hub = make_engine(settings.hub_db_url)
    create_hub_tables(hub)
    create_insight_tables(hub)
    webchat_tables.metadata.create_all(hub)
    handoffs = HandoffStore(Database(hub))
    for conversation, channel, customer, name in (
            ("rest:shop:ada", "rest", ADA, "Ada Lovelace"),
            ("tg-202", "telegram", GRACE, "Grace Hopper")):
        handoff = await handoffs.create(NewHandoff(
            conversation_id=conversation, channel=channel, reason="customer asked for a person", customer_id=customer, customer_name=name))
        await handoffs.add_note(handoff.id, None, f"{name} called about a parcel", "system")
    today = naive_utcnow().replace(microsecond=0)
    add_conversation(hub, "tg-101", today, channel="telegram", customer_id=ADA)
    add_conversation(hub, "tg-202", today, channel="telegram", customer_id=GRACE)
    add_conversation(hub, "tg-303", today - timedelta(days=OLD_DAYS), channel="telegram",
                     turns_said=[{"role": "customer", "text": "hello from long ago"},
                                 {"role": "customer", "text": "hello again today",
                                  "at": today}])
    add_conversation(hub, "tg-404", today - timedelta(days=OLD_DAYS), channel="telegram")
    with hub.begin() as connection:
        for sender in ("webchat-ada", "webchat-grace"):
            connection.execute(insert(webchat_tables.sessions).values(
                token_hash=secrets.token_hex(32), sender_id=sender, created_at=today,
                last_seen_at=today))
            connection.execute(insert(webchat_tables.conversations).values(
                conversation_id=sender, last_seq=1))
            connection.execute(insert(webchat_tables.messages).values(
                conversation_id=sender, seq=1, role="customer", payload='{"text": "hi"}',
                created_at=today))
    _telegram_store(settings.telegram_db_url)
    return World(settings, crm_engine, hub,
                 {sender: len(events) for sender, events in conversations.items()}, ada_order)


def _telegram_store(url: str) -> None:
    engine = make_engine(url)
    try:
        telegram_tables.metadata.create_all(engine)
        with engine.begin() as connection:
            for update_id, chat in enumerate(("101", "202"), start=1):
                payload = f'{{"message": {{"chat": {{"id": {chat}}}, "text": "hi"}}}}'
                connection.execute(insert(telegram_tables.updates).values(
                    update_id=update_id, chat_id=chat, payload=payload, state="answered",
                    received_at=0.0))
                connection.execute(insert(telegram_tables.dead_letters).values(
                    update_id=update_id, chat_id=chat, payload=payload, error="test", at=0.0))
    finally:
        engine.dispose()


def count(engine: Engine, table, **where: object) -> int:
    """Rows of `table` whose columns equal the given values."""
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as connection:
        return int(connection.scalar(query))
