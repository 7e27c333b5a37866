"""`RAPPORT_PROFILE=scale`: the whole stack on the machine's PostgreSQL, Redis and RabbitMQ.

One switch: every store in one PostgreSQL database (made by `rapport run`), the atomic Redis
lock store, RabbitMQ as the event broker feeding the hub's exchange log. Each service is
checked by what it left behind: tracker events and CRM rows in PostgreSQL, the lock's
ticket counter in Redis, the exchange log's turns (which only RabbitMQ could have carried).
"""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.postgres import PG_ADMIN_URL, connect_admin, drop_pg_database, nothing_listens
from tests.support.stack import Stack, rest_conversation, stack_env, texts

pytestmark = pytest.mark.integration

SERVICES = {"PostgreSQL": ("127.0.0.1", 5432), "Redis": ("127.0.0.1", 6379),
            "RabbitMQ": ("127.0.0.1", 5672)}
CATCH_UP_S = 60  # only turns a hang into a failure


@pytest.fixture(scope="module")
def scale_stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Stack, str, str]]:
    for name, (host, port) in SERVICES.items():
        if nothing_listens(host, port):
            pytest.skip(f"no {name} listening on {host}:{port}")
    database = f"rapport_scale_{uuid.uuid4().hex[:10]}"
    postgres = make_url(PG_ADMIN_URL).set(database=database).render_as_string(
        hide_password=False)
    queue = f"rapport_test_{secrets.token_hex(4)}"
    db_dir = tmp_path_factory.mktemp("scale-profile")
    env = stack_env(trained_model, db_dir, RAPPORT_PROFILE="scale",
                    RAPPORT_POSTGRES_URL=postgres, RAPPORT_REDIS_URL="redis://127.0.0.1:6379/1",
                    RAPPORT_RABBITMQ_URL="amqp://guest:guest@127.0.0.1:5672/",
                    RAPPORT_RABBITMQ_QUEUE=queue,
                    RAPPORT_VERIFICATION_SECRET=secrets.token_urlsafe(32))
    for embedded in ("RAPPORT_CRM_URL", "RAPPORT_HUB_DB_URL", "RAPPORT_TELEGRAM_DB_URL",
                     "RAPPORT_TRACKER_DB", "RAPPORT_EVENTS_DB"):
        env.pop(embedded)  # the profile decides: all in PostgreSQL
    admin = connect_admin()
    try:
        with Stack(env, log_path=db_dir / "rapport-run.log") as stack:
            yield stack, postgres, queue
    finally:
        drop_pg_database(admin, postgres)
        admin.dispose()
        _delete_queue(queue)


def _delete_queue(queue: str) -> None:
    import asyncio

    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    asyncio.run(delete())


def test_one_switch_puts_every_store_on_the_shared_servers(scale_stack):
    stack, postgres, _queue = scale_stack
    sender = f"scale-{secrets.token_hex(4)}"
    conversation = rest_conversation(sender)
    assert any("Ollie" in reply for reply in texts(stack.say(sender, "hello")))
    stack.say(sender, "where is my order RP-100001")
    verified = texts(stack.say(sender, "ada@example.com"))
    assert any("verified" in reply.lower() for reply in verified), verified

    engine = create_engine(postgres)
    try:
        with engine.connect() as connection:
            # Rasa's tracker store, the CRM's verification attempt: one PostgreSQL database
            tracked = connection.execute(text(
                "SELECT COUNT(*) FROM events WHERE sender_id = :id AND type_name = 'user'"),
                {"id": conversation}).scalar()
            attempts = connection.execute(text(
                "SELECT COUNT(*) FROM verification_attempts WHERE conversation_id = :id"),
                {"id": conversation}).scalar()
        assert (tracked, attempts) == (3, 1)
        # the hub's exchange log has the turns: RabbitMQ is the only way they can get there
        deadline = time.monotonic() + CATCH_UP_S
        logged = 0
        while time.monotonic() < deadline and logged < 3:
            with engine.connect() as connection:
                logged = connection.execute(text(
                    "SELECT COUNT(*) FROM insight_turns WHERE conversation_id = :id "
                    "AND role = 'customer'"), {"id": conversation}).scalar()
            time.sleep(0.2)
        assert logged == 3
    finally:
        engine.dispose()
    # the lock store issued this conversation's tickets in Redis (database 1)
    counter = redis.Redis(db=1).get(f"rapport:lock:{{{conversation}}}:counter")
    assert counter is not None and int(counter) >= 3
