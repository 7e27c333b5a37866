"""Engines for Rapport's SQL databases (CRM, hub, channels): SQLite embedded, PostgreSQL to scale.

One factory so every store gets the same care: a SQLite file's directory is created, WAL
lets readers and a writer work at once, a locked database waits `timeout` seconds (then
fails, so callers can answer "try again" instead of hanging), and PostgreSQL connections are
checked before use.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool

DEFAULT_TIMEOUT_S = 30.0


def make_engine(url: str, *, timeout: float = DEFAULT_TIMEOUT_S, durable: bool = False,
                **options: Any) -> Engine:
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
        engine = create_engine(parsed, future=True,
                               connect_args={"check_same_thread": False, "timeout": timeout},
                               **options)
        event.listen(engine, "connect", partial(_sqlite_pragmas, durable=durable))
        return engine
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg2":
        connect_args = {"connect_timeout": max(1, int(timeout)),
                        "options": f"-c lock_timeout={int(timeout * 1000)}"}
    return create_engine(parsed, future=True, pool_pre_ping=True, pool_timeout=timeout,
                         connect_args=connect_args, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, durable: bool) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    finally:
        cursor.close()
