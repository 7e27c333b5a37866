"""Making the exchange log complete from Rasa's tracker store, whatever a broker dropped.

Rasa's RabbitMQ broker publishes at most once: an event it could not publish waits only in
the Rasa process's memory, so a Rasa restart during a RabbitMQ outage loses it. The tracker
store (`rasa.core.tracker_store.SQLTrackerStore`, table `events`: id, sender_id, type_name,
timestamp, intent_name, action_name, data) keeps every event: `data` is the same event dict
the broker publishes, less the `sender_id` the row keeps in its own column. Both give the
same `event_key`, so recording the tracker store's events adds exactly what the broker
dropped, and nothing twice.

`TrackerStoreReconciler` reads the table in id order from the position stored in
`insight_positions` ("tracker-store"), every `every_seconds`, recording each batch and its
new position in one transaction. The table has the columns the SQL broker consumer reads
(id, sender_id, data), so it does that reading (`bot.insight.consumer.SqlBrokerConsumer`)
under its own position name and source: the same rewind on start, waiting until Rasa has
made the table, and one log line per trouble.

Give the reconciler its own `ExchangeLog` on the hub's engine (`ExchangeLog.twin()`): the
log keeps each conversation's latest action and customer turn in memory to work out a bot
turn's action and latency, and those follow the order of one stream (the tracker store's
here, the broker's for the consumer); sharing them would mix two streams.

Known limit: as for the SQL consumer, ids are taken in commit order only with one writer;
with several Rasa processes on one PostgreSQL tracker store, a row committed late under a
lower id than one already read is not reconciled.
"""

from __future__ import annotations

from bot.insight.consumer import SqlBrokerConsumer
from bot.insight.exchange_log import ExchangeLog
from bot.settings import Settings

POSITION_NAME = "tracker-store"
SOURCE = "tracker-store"
EVERY_SECONDS = 10.0  # how stale the log may be after an outage, at most (plus a batch)
BATCH = 500
REWIND = 500


class TrackerStoreReconciler:
    """Records into an `ExchangeLog` every event of Rasa's SQL tracker store it lacks."""

    def __init__(self, exchange_log: ExchangeLog, url: str, *,
                 every_seconds: float = EVERY_SECONDS, batch: int = BATCH,
                 rewind: int = REWIND, name: str = POSITION_NAME) -> None:
        self.exchange_log = exchange_log
        self.url = url
        self._reader = SqlBrokerConsumer(exchange_log, url, name=name, batch=batch,
                                         poll_seconds=every_seconds, rewind=rewind,
                                         source=SOURCE)

    @classmethod
    def from_settings(cls, settings: Settings,
                      exchange_log: ExchangeLog) -> "TrackerStoreReconciler":
        return cls(exchange_log, settings.tracker_store_url)

    async def reconcile(self) -> int:
        """Record everything the tracker store holds past the position; how many rows were read.

        Raises StoreUnavailable when either database fails or Rasa has not made the table yet.
        """
        total = 0
        while read := await self._reader.poll_once():
            total += read
        return total

    async def run(self) -> None:
        """Reconcile every `every_seconds` until cancelled (a full batch is followed at once)."""
        await self._reader.run()

    async def close(self) -> None:
        await self._reader.close()
