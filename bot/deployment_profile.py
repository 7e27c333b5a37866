"""The scale-out profile: one switch, `RAPPORT_PROFILE=scale`, and the variables it needs.

The profile moves every store to shared servers: PostgreSQL for Rasa's tracker store, the
CRM, the hub and the Telegram store (`RAPPORT_POSTGRES_URL`, one database for all unless a
store's own URL is set); Redis for the lock store (`RAPPORT_REDIS_URL`); RabbitMQ for the
event broker (`RAPPORT_RABBITMQ_URL`), consumed by the hub. `endpoints.scale.yml` is Rasa's
side of it: Rasa reads only environment variables there, so `endpoint_variables` splits the
URLs into the parts it names (host, port, database, user, password).
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import unquote, urlsplit

EMBEDDED, SCALE = "embedded", "scale"
PROFILES = (EMBEDDED, SCALE)
DEFAULT_POSTGRES_URL = "postgresql://127.0.0.1:5432/rapport"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
DEFAULT_RABBITMQ_URL = "amqp://127.0.0.1:5672/"
DEFAULT_QUEUE = "rapport_exchange_log"


class ProfileError(ValueError):
    """A scale-out URL Rapport cannot use."""


def postgres_parts(url: str) -> dict[str, str]:
    """A PostgreSQL URL as the tracker store's variables in endpoints.scale.yml."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise ProfileError(f"the tracker store needs a postgresql:// URL, got {parts.scheme}://")
    database = parts.path.lstrip("/")
    if not database:
        raise ProfileError("the PostgreSQL URL names no database (postgresql://host:5432/NAME)")
    return {"RAPPORT_TRACKER_PG_HOST": parts.hostname or "127.0.0.1",
            "RAPPORT_TRACKER_PG_PORT": str(parts.port or 5432),
            "RAPPORT_TRACKER_PG_DB": database,
            "RAPPORT_TRACKER_PG_USER": unquote(parts.username or ""),
            "RAPPORT_TRACKER_PG_PASSWORD": unquote(parts.password or "")}


def redis_parts(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ProfileError(f"RAPPORT_REDIS_URL must start with redis://, got {url[:20]!r}")
    database = parts.path.lstrip("/") or "0"
    if not database.isdigit():
        raise ProfileError("RAPPORT_REDIS_URL's database must be a number (redis://host:6379/1)")
    return {"RAPPORT_REDIS_HOST": parts.hostname or "127.0.0.1",
            "RAPPORT_REDIS_PORT": str(parts.port or 6379),
            "RAPPORT_REDIS_DB": database,
            "RAPPORT_REDIS_PASSWORD": unquote(parts.password or "")}


def rabbitmq_parts(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {"RAPPORT_RABBITMQ_HOST": parts.hostname or "127.0.0.1",
            "RAPPORT_RABBITMQ_PORT": str(parts.port or 5672),
            "RAPPORT_RABBITMQ_USER": unquote(parts.username or "guest"),
            "RAPPORT_RABBITMQ_PASSWORD": unquote(parts.password or "guest")}


def endpoint_variables(tracker_url: Optional[str], redis_url: Optional[str],
                       rabbitmq_url: Optional[str], queue: str) -> dict[str, str]:
    """What endpoints.scale.yml reads, from the profile's URLs (those that are set)."""
    variables: dict[str, str] = {}
    if tracker_url and tracker_url.startswith("postgresql"):
        variables.update(postgres_parts(tracker_url))
    if redis_url:
        variables.update(redis_parts(redis_url))
    if rabbitmq_url:
        variables.update(rabbitmq_parts(rabbitmq_url), RAPPORT_RABBITMQ_QUEUE=queue)
    return variables


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names if it is missing; True if it made it.

    The CRM's migrations and the hub's tables need the database to exist (Rasa's tracker
    store would make its own, the others do not).
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                        {"name": target.database}).first()
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(target.database)
            connection.execute(text(f"CREATE DATABASE {quoted}"))  # a name, not a value
            return True
    finally:
        server.dispose()
