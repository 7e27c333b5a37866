"""Feeding the exchange log from Rasa's SQL event broker (the `events` table).

`SqlBrokerConsumer` reads the table in id order from the position stored in
`insight_positions` ("sql-broker"), 500 rows at a time, and records each batch together
with its new position in one transaction of the hub database, so a restart neither loses
nor repeats an event. On start it re-reads up to `REWIND` events before the stored
position: recording them changes nothing (the log is idempotent) but restores each
conversation's state (its latest action, an open handoff) that the previous process held
in memory.

The table is read through SQLAlchemy, so the broker may be SQLite (settings.events_db, a
path today) or PostgreSQL (a URL). Until Rasa has created the database or its table, and
while a database fails, `run` says so once in the log and keeps trying.

Known limit: ids are taken in commit order only with one writer; several Rasa servers
writing one PostgreSQL table could commit a lower id after a higher one was read.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreUnavailable
from bot.insight.exchange_log import ExchangeLog
from bot.settings import Settings
from bot.trouble_log import TroubleLog

log = logging.getLogger(__name__)

POSITION_NAME = "sql-broker"
BATCH = 500
POLL_SECONDS = 0.5
REWIND = 500
SOURCE = "sql"

# Rasa's SQLEventBroker table (rasa.core.brokers.sql.SQLEventBroker.SQLBrokerEvent); read only.
_broker_metadata = MetaData()
events = Table(
    "events", _broker_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


def events_url(events_db: str) -> str:
    """The broker database's SQLAlchemy URL: a URL as given, a path as SQLite."""
    if "://" in events_db:
        return events_db
    return f"sqlite:///{Path(events_db).expanduser()}"


class SqlBrokerConsumer:
    """Tails Rasa's `events` table into an `ExchangeLog`, remembering where it got to."""

    def __init__(self, exchange_log: ExchangeLog, url: str, *, name: str = POSITION_NAME,
                 batch: int = BATCH, poll_seconds: float = POLL_SECONDS,
                 rewind: int = REWIND, source: str = SOURCE) -> None:
        self.exchange_log = exchange_log
        self.url = url
        self.name = name
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.rewind = rewind
        self.source = source  # names the feed on set-aside events
        self.cursor: Optional[int] = None  # the last id read; None until the first poll
        self._engine: Optional[Engine] = None
        self.trouble_log = TroubleLog(log, "exchange log consumer: reading events again")

    @classmethod
    def from_settings(cls, settings: Settings, exchange_log: ExchangeLog) -> "SqlBrokerConsumer":
        return cls(exchange_log, events_url(settings.events_db))

    async def poll_once(self) -> int:
        """Record the next batch of events; how many rows were read (0: nothing new yet).

        Raises StoreUnavailable when either database fails or the broker's is not there yet.
        """
        if self.cursor is None:
            stored = await self.exchange_log.position(self.name)
            self.cursor = max(0, stored - self.rewind)
        rows = await asyncio.to_thread(self._read, self.cursor)
        if not rows:
            return 0
        last = int(rows[-1][0])
        await self.exchange_log.record_many([(sender, data) for _, sender, data in rows],
                                            self.source, position=(self.name, last))
        self.cursor = last
        return len(rows)

    async def run(self) -> None:
        """Poll until cancelled; a full batch is followed at once by the next."""
        while True:
            read = 0
            try:
                read = await self.poll_once()
                self.trouble_log.recovered()
            except StoreUnavailable as error:
                self.trouble_log.say(f"exchange log consumer waiting: {error}")
            except Exception:  # noqa: BLE001 (keep the log fed; say what broke)
                self.trouble_log.unexpected("exchange log consumer: unexpected error")
            if read < self.batch:
                await asyncio.sleep(self.poll_seconds)

    async def close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.dispose)
            self._engine = None

    # -- the broker's table ------------------------------------------------------------

    def _read(self, after: int) -> list[tuple[int, Any, Any]]:
        engine = self._broker()
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(events.c.id, events.c.sender_id, events.c.data)
                    .where(events.c.id > after).order_by(events.c.id).limit(self.batch)).all()
        except SQLAlchemyError as error:
            where = make_url(self.url).render_as_string(hide_password=True)
            raise StoreUnavailable(f"Rasa's event table at {where} cannot be read "
                                   f"({type(error).__name__}; not created yet?)") from error
        return [(row.id, row.sender_id, row.data) for row in rows]

    def _broker(self) -> Engine:
        """The broker's engine; StoreUnavailable while its SQLite file does not exist."""
        if self._engine is not None:
            return self._engine
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if not database or not Path(database).expanduser().is_file():
                raise StoreUnavailable(f"Rasa's event database {database} does not exist yet")
            self._engine = create_engine(parsed, future=True, connect_args={"timeout": 5})
        else:
            self._engine = create_engine(parsed, future=True, pool_pre_ping=True)
        return self._engine
