"""Rapport's SQL databases (CRM, hub, channels): SQLite embedded, PostgreSQL to scale.

One engine factory so every store gets the same care: a SQLite file's directory is created,
WAL lets readers and a writer work at once, a locked database waits `timeout` seconds (then
fails, so callers can answer "try again" instead of hanging), and PostgreSQL connections are
checked before use.

One store base, `ThreadedStore`, so every store works the same way: each call runs in a
worker thread (the event loop never waits on the database), its tables are created once on
first use, and a database error becomes `StoreUnavailable`.

One clock: `utcnow()` is aware; tables store naive UTC, so values go in through `naive()`
(or `naive_utcnow()`) and come back through `aware()`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Executor
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool

from bot.errors import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
_CREATE_ATTEMPTS = 6


def make_engine(url: str, *, timeout: float = DEFAULT_TIMEOUT_S, durable: bool = False,
                future: bool = True, **options: Any) -> Engine:
    """An engine for a SQLAlchemy URL.

    `durable` makes SQLite sync every commit to disk (synchronous=FULL): for stores that
    acknowledge data to someone else, such as Telegram updates answered with 200.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in database
        if not in_memory and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # 1.4 defaults to NullPool for files: a new connection (and WAL set-up) per call
        options.setdefault("poolclass", StaticPool if in_memory else QueuePool)
        engine = create_engine(parsed, future=future,
                               connect_args={"check_same_thread": False, "timeout": timeout},
                               **options)
        event.listen(engine, "connect", partial(_sqlite_pragmas, durable=durable))
        return engine
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg2":
        connect_args = {"connect_timeout": max(1, int(timeout)),
                        "options": f"-c lock_timeout={int(timeout * 1000)}"}
    return create_engine(parsed, future=future, pool_pre_ping=True, pool_timeout=timeout,
                         connect_args=connect_args, **options)


def pooled_sqlite(engine: Engine) -> Engine:
    """For an engine Rasa made itself (tracker store, event broker): on SQLite, the same file
    through `make_engine` (a pool, WAL, a lock timeout; Rasa's 1.x-style API); else `engine`.

    Rasa opens SQLite without a pool and in rollback-journal mode: every retrieve, save and
    published turn opened the file anew, each commit created, synced and deleted a journal,
    and the hub's readers blocked Rasa's writes. WAL with synchronous=NORMAL loses no commit
    when a process is killed; only a power cut may lose the last moments.
    """
    if engine.dialect.name != "sqlite":
        return engine
    pooled = make_engine(engine.url.render_as_string(hide_password=False), future=False)
    engine.dispose()
    return pooled


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, durable: bool) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions in SQLAlchemy 2.0 style whose objects stay readable after commit."""
    return sessionmaker(bind=engine, class_=Session, future=True, expire_on_commit=False)


# -- time -----------------------------------------------------------------------------------


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (the one clock every module reads)."""
    return datetime.now(timezone.utc)


def naive(moment: datetime) -> datetime:
    """Aware → naive UTC, the way tables store times (a naive one is taken to be UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def aware(moment: Optional[datetime]) -> Optional[datetime]:
    """A stored naive UTC time → aware (None and aware times pass through)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def naive_utcnow() -> datetime:
    """Now, as the naive UTC datetime tables store: a column default, or a value to store."""
    return naive(utcnow())


# -- stores ---------------------------------------------------------------------------------


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create the tables that are missing; safe when another process does it at once."""
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as error:
            # A concurrent CREATE won between our check and ours; checking again sees it.
            if attempt == _CREATE_ATTEMPTS:
                raise
            log.info("retrying table creation after %s", type(error).__name__)
            time.sleep(0.02 * attempt)  # let the other creator finish its statements


class ThreadedStore:
    """A store on one engine: calls run in a worker thread, tables are made once, errors named.

    Subclasses set `metadata` (the tables to create on first use; None when migrations own
    the schema) and `label` (what messages call the store), and may pass their own
    `executor` to bound how many threads use the database at once.
    """

    metadata: Optional[MetaData] = None
    label = "database"

    def __init__(self, engine: Engine, *, dispose_engine: bool = False,
                 executor: Optional[Executor] = None) -> None:
        self.engine = engine
        self._dispose_engine = dispose_engine
        self._executor = executor
        self._tables_ready = self.metadata is None
        self._tables_lock = threading.Lock()

    async def call(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work(*args, **kwargs)` in a worker thread (it opens its own transactions)."""
        return await self._in_thread(self.call_sync, work, *args, **kwargs)

    def call_sync(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call` for code already in a worker thread."""
        return self._guarded(work, work, *args, **kwargs)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(connection, *args)` in one transaction, in a worker thread."""
        return await self._in_thread(self.run_sync, work, *args)

    def run_sync(self, work: Callable[..., T], *args: Any) -> T:
        """`run` for code already in a worker thread."""
        return self._guarded(work, self._transaction, work, *args)

    def _transaction(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work` in one transaction; a subclass may hand it a session instead."""
        with self.engine.begin() as connection:
            return work(connection, *args)

    async def ensure_tables(self) -> None:
        """Create the store's tables if they are missing (idempotent)."""
        await self.call(self._create_tables_once)

    def _create_tables_once(self) -> None:
        if self._tables_ready:
            return
        with self._tables_lock:
            if not self._tables_ready and self.metadata is not None:
                self.create_schema()
            self._tables_ready = True

    def create_schema(self) -> None:
        """Make the missing tables; a store whose tables grew since overrides it to add columns."""
        create_tables(self.engine, self.metadata)

    def unavailable(self, error: SQLAlchemyError, work: Callable[..., Any]) -> Exception:
        """What a database error becomes (the message names the error's class only)."""
        log.warning("%s error: %s", self.label, type(error).__name__)
        return StoreUnavailable(f"the {self.label} failed ({type(error).__name__})")

    async def close(self) -> None:
        if self._dispose_engine:
            await asyncio.to_thread(self.engine.dispose)

    def _guarded(self, work: Callable[..., Any], target: Callable[..., T], *args: Any,
                 **kwargs: Any) -> T:
        try:
            self._create_tables_once()
            return target(*args, **kwargs)
        except SQLAlchemyError as error:
            raise self.unavailable(error, work) from error

    async def _in_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._executor is None:
            return await asyncio.to_thread(function, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))
