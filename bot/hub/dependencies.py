"""Are the stores Rapport depends on reachable? Checked in the background, shown everywhere.

Rasa 3.6 answers a tracker store it cannot reach at start-up by falling back, silently, to an
in-memory one (every message then starts a fresh conversation); at run time its requests
fail. Either way the brand should know at once. The hub checks every store the settings name
every few seconds: the tracker store and the CRM and hub databases (a connection and
`SELECT 1`), Redis (PING) and RabbitMQ (a TCP connect) in the scale-out profile. A change
is logged once, as a warning when a store goes down and as info when it is back; `/health`
answers 503 while one is down, the status page lists them, and every console page carries a
banner (`bot/hub/templates/console_layout.html`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import Settings

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
PROBE_TIMEOUT_S = 2.0


@dataclass
class Dependency:
    name: str  # what the brand calls it: "tracker store", "CRM database"...
    where: str  # host:port or file, never a password
    probe: Callable[[], None]  # raises when unreachable
    up: Optional[bool] = None  # None: not checked yet
    reason: str = ""
    since: float = 0.0


def _sqlite(url: str) -> tuple[str, Callable[[], None]]:
    """An embedded database is a file: its folder must be there (the file comes with use)."""
    from pathlib import Path

    path = Path(url.split("///", 1)[-1])

    def probe() -> None:
        if not path.parent.is_dir():
            raise FileNotFoundError(str(path.parent))

    return str(path), probe


def _database(url: str) -> tuple[str, Callable[[], None], Engine]:
    engine = create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=0,
                           **({"connect_args": {"connect_timeout": int(PROBE_TIMEOUT_S)}}
                              if url.startswith("postgresql") else {}))

    def probe() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    where = engine.url.render_as_string(hide_password=True).split("@")[-1]
    return where, probe, engine


def _tcp(url: str, default_port: int) -> tuple[str, Callable[[], None]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port

    def probe() -> None:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass  # a TCP connect is the whole check

    return f"{host}:{port}", probe


def _redis(url: str) -> tuple[str, Callable[[], None]]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S,
                                  socket_connect_timeout=PROBE_TIMEOUT_S)
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}", lambda: client.ping()


class DependencyMonitor:
    """The stores the settings name, and whether each answered its latest check."""

    def __init__(self, settings: Settings) -> None:
        self._engines: list[Engine] = []
        self.dependencies: list[Dependency] = []
        for name, url in (("tracker store", settings.tracker_store_url),
                          ("CRM database", settings.crm_url if settings.crm_backend == "sql"
                           else None),
                          ("hub database", settings.hub_db_url)):
            if url and url.startswith("sqlite"):
                self.dependencies.append(Dependency(name, *_sqlite(url)))
            elif url:
                where, probe, engine = _database(url)
                self._engines.append(engine)
                self.dependencies.append(Dependency(name, where, probe))
        if settings.redis_url:
            self.dependencies.append(Dependency("lock store (Redis)", *_redis(settings.redis_url)))
        if settings.rabbitmq_url:
            self.dependencies.append(Dependency("event broker (RabbitMQ)",
                                                *_tcp(settings.rabbitmq_url, 5672)))

    @property
    def down(self) -> list[Dependency]:
        return [dependency for dependency in self.dependencies if dependency.up is False]

    async def check(self) -> None:
        """Probe every store once (in threads, at once) and log what changed."""
        results = await asyncio.gather(*(asyncio.to_thread(self._probe, dependency)
                                         for dependency in self.dependencies))
        for dependency, (up, reason) in zip(self.dependencies, results):
            if up != dependency.up:
                if not up:
                    log.warning("%s at %s is DOWN: %s; customers get an apology until it is "
                                "back", dependency.name, dependency.where, reason)
                elif dependency.up is False:
                    log.info("%s at %s is back", dependency.name, dependency.where)
                dependency.since = time.time()
            dependency.up, dependency.reason = up, reason

    @staticmethod
    def _probe(dependency: Dependency) -> tuple[bool, str]:
        try:
            dependency.probe()
            return True, ""
        except (SQLAlchemyError, OSError) as error:
            return False, type(error).__name__
        except Exception as error:  # noqa: BLE001 (redis' own errors and the like)
            return False, type(error).__name__

    async def run(self) -> None:
        """Check every CHECK_EVERY_S until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(CHECK_EVERY_S)

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()
