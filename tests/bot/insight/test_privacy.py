"""Privacy requests across real stores: forget, export and purge (bot.insight.privacy).

The stores are real SQLite databases filled by the real writers (tests/bot/insight/
privacy_world.py): Rasa's SQLTrackerStore and SQLEventBroker, SqlCrm, HandoffStore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import insert, select

from bot.crm.models import (
    CaseRow, ChannelIdentityRow, CustomerRow, InteractionRow, OrderRow, VerificationAttemptRow,
)
from bot.database import make_engine, naive_utcnow
from bot.handoff.tables import handoff_notes, handoffs
from bot.insight import tables as log
from bot.insight.privacy import (
    PrivacyStores, UnknownCustomer, conversations_of, export, export_json, forget, purge,
)
from bot.insight.rasa_events import RasaEventTable
from bot.insight.subject_crm import ERASED_NAME, erased_email
from channels.telegram import tables as telegram_tables
from channels.webchat import tables as webchat_tables
from tests.bot.insight.privacy_world import (
    ADA, ADA_CONVERSATIONS, GRACE, GRACE_CONVERSATIONS, World, build_world, count,
)


@pytest_asyncio.fixture
async def world(tmp_path: Path, seeded_crm_url: str) -> AsyncIterator[World]:
    built = await build_world(tmp_path, seeded_crm_url)
    yield built
    built.close()


@pytest.fixture
def stores(world: World):
    opened = PrivacyStores.open(world.settings)
    yield opened
    opened.close()


def _rasa(path: str) -> RasaEventTable:
    return RasaEventTable.open("test", path)


def _rasa_events(world: World, sender: str) -> tuple[int, int]:
    """Events of one conversation in the tracker store and in the broker."""
    counts = []
    for path in (world.settings.tracker_db, world.settings.events_db):
        table = _rasa(path)
        counts.append(len(table.events_of([sender])[sender]))
        table.close()
    return counts[0], counts[1]


def _telegram_chats(world: World) -> set[str]:
    """Chats with anything left in the Telegram store."""
    engine = make_engine(world.settings.telegram_db_url)
    try:
        with engine.connect() as connection:
            return {row.chat_id for table in (telegram_tables.updates,
                                              telegram_tables.dead_letters)
                    for row in connection.execute(select(table.c.chat_id))}
    finally:
        engine.dispose()


def _everything(world: World) -> dict[str, object]:
    """Every row of every store (to show that a refused request changed nothing)."""
    snapshot: dict[str, object] = {}
    for name, engine, tables in (
            ("crm", world.crm, [CustomerRow.__table__, OrderRow.__table__, CaseRow.__table__,
                                ChannelIdentityRow.__table__, InteractionRow.__table__,
                                VerificationAttemptRow.__table__]),
            ("hub", world.hub, [handoffs, handoff_notes, log.conversations, log.turns,
                                webchat_tables.messages, webchat_tables.sessions])):
        with engine.connect() as connection:
            for table in tables:
                snapshot[f"{name}.{table.name}"] = sorted(
                    map(repr, connection.execute(select(table)).all()))
    for path in (world.settings.tracker_db, world.settings.events_db):
        table = _rasa(path)
        snapshot[path] = table.events_of(world.tracker_events)
        table.close()
    snapshot["telegram"] = _telegram_chats(world)
    return snapshot


def test_every_store_leads_to_the_customers_conversations(world, stores):
    assert conversations_of(stores, ADA) == set(ADA_CONVERSATIONS)
    assert conversations_of(stores, GRACE) == set(GRACE_CONVERSATIONS)


def test_forget_erases_the_customer_everywhere(world, stores):
    report = forget(stores, ADA)

    for sender in ADA_CONVERSATIONS:
        assert _rasa_events(world, sender) == (0, 0), sender
    assert report.stores["tracker store"]["events"] == sum(
        world.tracker_events[sender] for sender in ADA_CONVERSATIONS)
    assert report.stores["event broker"]["events"] == report.stores["tracker store"]["events"]
    assert count(world.hub, log.conversations, conversation_id="tg-101") == 0
    assert count(world.hub, log.turns, conversation_id="tg-101") == 0
    assert count(world.hub, handoffs, customer_id=ADA) == 0
    assert count(world.hub, webchat_tables.messages, conversation_id="webchat-ada") == 0
    assert count(world.hub, webchat_tables.sessions, sender_id="webchat-ada") == 0
    assert count(world.crm, ChannelIdentityRow.__table__, customer_id=ADA) == 0
    assert count(world.crm, InteractionRow.__table__, customer_id=ADA) == 0
    assert count(world.crm, VerificationAttemptRow.__table__,
                 conversation_id="webchat-ada-verify") == 0
    assert report.stores["handoffs"] == {"handoffs": 1, "notes": 1}
    assert report.stores["web chat"] == {"messages": 1, "conversations": 1, "sessions": 1}
    assert report.stores["Telegram"] == {"updates": 1, "outbox messages": 0, "dead letters": 1,
                                         "chats": 0}
    assert _telegram_chats(world) == {"202"}
    assert report.stores["exchange log"]["conversations"] == 1

    with world.crm.connect() as connection:
        customer = connection.execute(select(CustomerRow.__table__).where(
            CustomerRow.id == ADA)).one()
        orders = connection.execute(select(OrderRow.__table__).where(
            OrderRow.customer_id == ADA)).all()
    assert (customer.name, customer.email, customer.phone, customer.postcode) == (
        ERASED_NAME, erased_email(ADA), None, None)
    assert orders, "orders are kept for accounting"
    assert {(order.email, order.postcode) for order in orders} == {(erased_email(ADA), "")}
    assert "Lovelace" not in "\n".join(report.lines())


def test_forget_leaves_another_customer_untouched(world, stores):
    before = json.loads(export_json(export(stores, GRACE)))
    forget(stores, ADA)
    after = json.loads(export_json(export(stores, GRACE)))
    before.pop("exported_at"), after.pop("exported_at")
    assert after == before
    assert _rasa_events(world, "tg-202") == (world.tracker_events["tg-202"],) * 2
    assert _rasa_events(world, "tg-303") == (world.tracker_events["tg-303"],) * 2
    assert count(world.hub, webchat_tables.messages, conversation_id="webchat-grace") == 1
    assert count(world.hub, handoff_notes) == 1
    assert _telegram_chats(world) == {"202"}


def test_forget_twice_is_harmless_and_changes_nothing_more(world, stores):
    forget(stores, ADA)
    snapshot = _everything(world)
    again = forget(stores, ADA)
    assert again.total == 0
    assert _everything(world) == snapshot


def test_forget_by_email_then_the_email_is_gone(world, stores):
    report = forget(stores, "ADA@example.com")
    assert report.title.startswith(f"erased customer {ADA}")
    with pytest.raises(UnknownCustomer):
        forget(stores, "ada@example.com")


@pytest.mark.parametrize("who", ["C-999999999999", "nobody@example.com", "  "])
def test_an_unknown_customer_is_an_error_and_changes_nothing(world, stores, who):
    snapshot = _everything(world)
    with pytest.raises(UnknownCustomer):
        forget(stores, who)
    with pytest.raises(UnknownCustomer):
        export(stores, who)
    assert _everything(world) == snapshot


def test_export_holds_everything_about_the_customer(world, stores):
    document = json.loads(export_json(export(stores, "ada@example.com")))
    assert document["customer"]["id"] == ADA
    assert document["customer"]["email"] == "ada@example.com"
    assert world.ada_order in {order["number"] for order in document["orders"]}
    assert all(order["lines"] for order in document["orders"])
    assert {case["customer_id"] for case in document["cases"]} <= {ADA}
    assert [identity["channel_user_id"] for identity in document["channel_identities"]] == [
        "tg-101"]
    assert [item["kind"] for item in document["interactions"]][-1] == "verified"
    by_id = {c["conversation_id"]: c for c in document["conversations"]}
    assert set(by_id) == set(ADA_CONVERSATIONS)
    for sender in ADA_CONVERSATIONS:
        assert len(by_id[sender]["tracker_events"]) == world.tracker_events[sender]
    texts = [event.get("text") for event in by_id["tg-101"]["tracker_events"]]
    assert "where is order RP-1? ada@example.com" in texts  # their own words, unredacted
    assert by_id["tg-101"]["exchange_log"]["customer_id"] == ADA
    assert [turn["text"] for turn in by_id["tg-101"]["turns"]] == ["hello"]
    assert by_id["rest:shop:ada"]["handoffs"][0]["notes"][0]["text"] == (
        "Ada Lovelace called about a parcel")
    assert "grace" not in export_json(export(stores, ADA)).lower()


def test_export_holds_what_forget_erases_from_web_chat_telegram_and_set_aside(world, stores):
    with world.hub.begin() as connection:
        connection.execute(insert(log.set_aside).values(
            source="broker", conversation_id="tg-101", raw="ada's unreadable event",
            reason="not JSON", at=naive_utcnow()))
    document = json.loads(export_json(export(stores, ADA)))
    by_id = {c["conversation_id"]: c for c in document["conversations"]}

    webchat = by_id["webchat-ada"]["web_chat"]
    assert [m["payload"] for m in webchat["messages"]] == ['{"text": "hi"}']
    assert [c["conversation_id"] for c in webchat["conversations"]] == ["webchat-ada"]
    assert [s["sender_id"] for s in webchat["sessions"]] == ["webchat-ada"]
    assert all("token_hash" not in session for session in webchat["sessions"])
    telegram = by_id["tg-101"]["telegram"]
    assert [row["chat_id"] for row in telegram["updates"]] == ["101"]
    assert [row["chat_id"] for row in telegram["dead letters"]] == ["101"]
    assert by_id["webchat-ada"]["telegram"] == {}
    assert [row["raw"] for row in by_id["tg-101"]["set_aside"]] == ["ada's unreadable event"]
    assert "webchat-grace" not in export_json(document) and '"202"' not in export_json(document)

    report = forget(stores, ADA)  # each thing exported is a thing forget erases
    assert report.stores["exchange log"]["set-aside events"] == 1
    assert report.stores["web chat"]["messages"] == len(webchat["messages"])
    assert report.stores["Telegram"]["updates"] == len(telegram["updates"])


def test_purge_removes_only_what_is_older_than_the_retention(world, stores):
    report = purge(stores, retention_days=365)
    old_events = world.tracker_events["tg-303"] // 2
    assert report.stores["tracker store"]["events"] == old_events
    assert report.stores["event broker"]["events"] == old_events
    assert _rasa_events(world, "tg-303") == (world.tracker_events["tg-303"] - old_events,) * 2
    assert _rasa_events(world, "tg-101") == (world.tracker_events["tg-101"],) * 2
    assert report.stores["exchange log"] == {"turns": 2, "conversations": 1,
                                             "set-aside events": 0}
    assert count(world.hub, log.turns, conversation_id="tg-303") == 1  # today's turn stays
    assert count(world.hub, log.conversations, conversation_id="tg-303") == 1
    assert count(world.hub, log.conversations, conversation_id="tg-404") == 0
    assert purge(stores, retention_days=365).total == 0


def test_purge_refuses_a_retention_under_a_day(stores):
    with pytest.raises(ValueError, match="at least 1"):
        purge(stores, retention_days=0)
