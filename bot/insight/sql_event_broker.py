"""The embedded profile's event broker: Rasa's SQL broker, one transaction per turn.

Rasa's `SQLEventBroker` writes the `events` table the exchange log is fed from
(`bot/insight/consumer.py`), committing once per event: a turn's eight or so events were
eight transactions on a fresh connection each, in SQLite's rollback-journal mode. This broker
writes the same rows to the same table; `WindowedSQLTrackerStore` hands it a turn's events
at once (`publish_many`, one transaction), and its SQLite file is kept open in WAL mode
(`bot.database.pooled_sqlite`). endpoints.yml: `type: bot.insight.sql_event_broker.TurnSQLEventBroker`.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional, Text

from rasa.core.brokers.sql import SQLEventBroker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.orm import sessionmaker

from bot.database import pooled_sqlite


class TurnSQLEventBroker(SQLEventBroker):
    """Rasa's SQL event broker, writing a turn's events in one transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine = pooled_sqlite(self.engine)
        self.sessionmaker = sessionmaker(bind=self.engine)

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: Optional[Any] = None) -> "TurnSQLEventBroker":
        return cls(host=broker_config.url, **broker_config.kwargs)

    def publish(self, event: dict[Text, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: Iterable[dict[Text, Any]]) -> None:
        """Publish events in order, all or none."""
        with self.session_scope() as session:
            session.add_all([self.SQLBrokerEvent(sender_id=event.get("sender_id"),
                                                 data=json.dumps(event)) for event in events])
            session.commit()
