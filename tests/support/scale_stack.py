"""The real stack in the scale-out profile (`RAPPORT_PROFILE=scale`) on the machine's servers.

`scale_stack(...)` makes a PostgreSQL database and a RabbitMQ queue of its own, starts
`rapport run` on them and Redis, and removes both afterwards. Each server may be reached
through another address (a `BackgroundProxy` a fault drill cuts), while the test itself reads
PostgreSQL directly (`ScaleStack.postgres_url`), so it can look while the stack cannot.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.postgres import PG_ADMIN_URL, connect_admin, drop_pg_database, nothing_listens
from tests.support.stack import Stack, stack_env

SERVERS = {"PostgreSQL": ("127.0.0.1", 5432), "Redis": ("127.0.0.1", 6379),
           "RabbitMQ": ("127.0.0.1", 5672)}
RABBITMQ_LOGIN = "guest:guest"
REDIS_DB = 1


def skip_unless_servers_run() -> None:
    """Skip the calling test (or fixture) with the reason when a server is not running here."""
    for name, (host, port) in SERVERS.items():
        if nothing_listens(host, port):
            pytest.skip(f"no {name} listening on {host}:{port}")


@dataclass
class ScaleStack:
    stack: Stack
    postgres_url: str  # the stack's database, reached directly (not through a proxy)
    queue: str  # the RabbitMQ queue feeding the hub's exchange log

    def scalar(self, sql: str, **values: object) -> object:
        """One value from the stack's PostgreSQL database (parameters bound, never pasted)."""
        engine = create_engine(self.postgres_url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql), values).scalar()
        finally:
            engine.dispose()


@contextmanager
def scale_stack(model: Path, db_dir: Path, *, postgres_port: int = 5432,
                redis_port: int = 6379, rabbitmq_port: int = 5672,
                **extra_env: str) -> Iterator[ScaleStack]:
    """`rapport run` in the scale-out profile, every server on 127.0.0.1 at the ports given."""
    database = f"rapport_scale_{uuid.uuid4().hex[:10]}"
    direct = make_url(PG_ADMIN_URL).set(database=database)
    through = direct.set(port=postgres_port)
    queue = f"rapport_test_{secrets.token_hex(4)}"
    env = stack_env(
        model, db_dir, RAPPORT_PROFILE="scale",
        RAPPORT_POSTGRES_URL=through.render_as_string(hide_password=False),
        RAPPORT_REDIS_URL=f"redis://127.0.0.1:{redis_port}/{REDIS_DB}",
        RAPPORT_RABBITMQ_URL=f"amqp://{RABBITMQ_LOGIN}@127.0.0.1:{rabbitmq_port}/",
        RAPPORT_RABBITMQ_QUEUE=queue,
        RAPPORT_VERIFICATION_SECRET=secrets.token_urlsafe(32), **extra_env)
    for embedded in ("RAPPORT_CRM_URL", "RAPPORT_HUB_DB_URL", "RAPPORT_TELEGRAM_DB_URL",
                     "RAPPORT_TRACKER_DB", "RAPPORT_EVENTS_DB"):
        env.pop(embedded)  # the profile decides: all in PostgreSQL
    postgres_url = direct.render_as_string(hide_password=False)
    admin = connect_admin()
    try:
        with Stack(env, log_path=db_dir / "rapport-run.log") as stack:
            yield ScaleStack(stack, postgres_url, queue)
    finally:
        drop_pg_database(admin, postgres_url)
        admin.dispose()
        delete_queue(queue)


def delete_queue(queue: str) -> None:
    import aio_pika

    host, port = SERVERS["RabbitMQ"]

    async def delete() -> None:
        connection = await aio_pika.connect_robust(f"amqp://{RABBITMQ_LOGIN}@{host}:{port}/")
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    asyncio.run(delete())
