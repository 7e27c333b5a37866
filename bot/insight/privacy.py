"""Privacy requests across every store: purge by retention, forget a customer, export one.

The stores: the SQL CRM (settings.crm_url), the hub database (exchange log, handoffs, web
chat; settings.hub_db_url), Rasa's tracker store (settings.tracker_db), its SQL event broker
(settings.events_db) and the Telegram channel's store (settings.telegram_db_url). A customer
is named by CRM id or e-mail; their conversations are every Rasa sender id that any store
ties to them (`conversations_of`).

- `purge`: deletes exchange-log turns, tracker-store events and broker events older than
  RAPPORT_RETENTION_DAYS, then exchange-log conversations left without turns.
- `forget`: erases the customer's conversations everywhere (Rasa's stores first, then the
  hub, then the CRM links that lead to them, so an interrupted run can be repeated), and
  anonymises the CRM record (see `bot.insight.subject_crm`). Running it twice is harmless;
  a customer still chatting, or the hub's consumer recording a last batch meanwhile, can
  leave a few new rows, which a second run removes.
- `export`: everything about the customer as one JSON document, unredacted (it is their
  own data): what `forget` would erase, store by store (a web chat session's token hash
  aside).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import delete, exists, inspect
from sqlalchemy.engine import Engine

from bot.database import make_engine, naive, utcnow
from bot.errors import RapportError
from bot.insight import rollup, subject_crm, subject_hub, subject_telegram
from bot.insight.rasa_events import RasaEventTable
from bot.insight.subject_crm import UnknownCustomer
from bot.insight.tables import conversations as log_conversations
from bot.insight.tables import rollup_days, set_aside, turns
from bot.settings import Settings, SettingsError

__all__ = ["PrivacyStores", "UnknownCustomer", "purge", "forget", "export", "export_json",
           "conversations_of", "Report"]


class PrivacyUnsupported(RapportError, RuntimeError):
    """The request needs a store Rapport cannot reach from here."""


@dataclass
class PrivacyStores:
    """Engines on every store a privacy request touches."""

    crm: Engine
    hub: Engine
    tracker: RasaEventTable
    broker: RasaEventTable
    telegram: Optional[Engine] = None  # None: no Telegram store on this machine

    @classmethod
    def open(cls, settings: Settings) -> "PrivacyStores":
        if settings.crm_backend != "sql":
            raise PrivacyUnsupported(
                "privacy requests need the SQL CRM (RAPPORT_CRM_BACKEND=sql); with a brand's "
                "own CRM API, erase or export the customer there")
        return cls(make_engine(settings.crm_url), make_engine(settings.hub_db_url),
                   RasaEventTable.open("tracker store", settings.tracker_db),
                   RasaEventTable.open("event broker", settings.events_db, tailed=True),
                   subject_telegram.open_store(settings.telegram_db_url))

    def close(self) -> None:
        self.crm.dispose()
        self.hub.dispose()
        self.tracker.close()
        self.broker.close()
        if self.telegram is not None:
            self.telegram.dispose()


@dataclass
class Report:
    """What a request changed, per store: {"tracker store": {"events": 3}, ...}."""

    title: str
    stores: dict[str, dict[str, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        rows = [self.title]
        for store, counts in self.stores.items():
            parts = ", ".join(f"{count} {what}" for what, count in counts.items())
            rows.append(f"  {store}: {parts or 'nothing'}")
        return rows

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self.stores.values())


# -- purge --------------------------------------------------------------------------------

def purge(stores: PrivacyStores, retention_days: int, now: Optional[datetime] = None) -> Report:
    """Delete what is older than the retention period from the log and Rasa's stores."""
    if retention_days < 1:
        raise SettingsError(f"RAPPORT_RETENTION_DAYS must be at least 1, got {retention_days}")
    cutoff = naive(now or utcnow()) - timedelta(days=retention_days)
    report = Report(f"deleted what happened before {cutoff:%Y-%m-%d %H:%M} UTC "
                    f"({retention_days} days):")
    report.stores["exchange log"] = _purge_log(stores.hub, cutoff)
    report.stores["tracker store"] = {"events": stores.tracker.delete_older_than(cutoff)}
    report.stores["event broker"] = {"events": stores.broker.delete_older_than(cutoff)}
    return report


def _purge_log(hub: Engine, cutoff: datetime) -> dict[str, int]:
    present = set(inspect(hub).get_table_names())
    counts = {"turns": 0, "conversations": 0, "set-aside events": 0}
    if not {turns.name, log_conversations.name} <= present:
        return counts
    with hub.begin() as connection:
        counts["turns"] = connection.execute(delete(turns).where(turns.c.at < cutoff)).rowcount
        has_turns = exists().where(turns.c.conversation_id == log_conversations.c.conversation_id)
        counts["conversations"] = connection.execute(delete(log_conversations).where(
            log_conversations.c.last_at < cutoff, ~has_turns)).rowcount
        if rollup_days.name in present:  # the dashboard's day sums counted them
            rollup.forget_all(connection)
        if set_aside.name in present:
            counts["set-aside events"] = connection.execute(
                delete(set_aside).where(set_aside.c.at < cutoff)).rowcount
    return counts


# -- one customer -------------------------------------------------------------------------

def conversations_of(stores: PrivacyStores, customer_id: str) -> set[str]:
    """Every Rasa sender id any store ties to the customer."""
    return (subject_crm.conversation_ids(stores.crm, customer_id)
            | subject_hub.conversation_ids(stores.hub, customer_id)
            | stores.tracker.senders_verified_as(customer_id))


def forget(stores: PrivacyStores, identifier: str) -> Report:
    """Erase one customer everywhere; `UnknownCustomer` (nothing changed) if there is none."""
    subject = subject_crm.find_customer(stores.crm, identifier)
    conversations = conversations_of(stores, subject.customer_id)
    report = Report(f"erased customer {subject.customer_id} "
                    f"({len(conversations)} conversations):")
    report.stores["tracker store"] = {"events": stores.tracker.delete_conversations(conversations)}
    report.stores["event broker"] = {"events": stores.broker.delete_conversations(conversations)}
    report.stores.update(subject_hub.erase(stores.hub, subject.customer_id, conversations))
    report.stores["Telegram"] = subject_telegram.erase(stores.telegram, conversations)
    report.stores["CRM"] = subject_crm.erase(stores.crm, subject.customer_id, conversations)
    return report


def export(stores: PrivacyStores, identifier: str) -> dict[str, Any]:
    """Everything Rapport holds about one customer (a data-subject access request)."""
    subject = subject_crm.find_customer(stores.crm, identifier)
    conversations = sorted(conversations_of(stores, subject.customer_id))
    tracker_events = stores.tracker.events_of(conversations)
    hub_records = subject_hub.records(stores.hub, conversations)
    telegram_records = subject_telegram.records(stores.telegram, conversations)
    document = {"customer_id": subject.customer_id, "exported_at": utcnow().isoformat(),
                **subject_crm.records(stores.crm, subject.customer_id)}
    document["conversations"] = [
        {"conversation_id": cid, "tracker_events": tracker_events[cid], **hub_records[cid],
         "telegram": telegram_records.get(cid, {})}
        for cid in conversations]
    return document


def export_json(document: dict[str, Any]) -> str:
    """The export as JSON text (times in ISO 8601, money as numbers)."""
    return json.dumps(document, default=_plain, indent=2, ensure_ascii=False, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot export a {type(value).__name__}")
