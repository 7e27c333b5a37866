"""`RAPPORT_PROFILE=scale`: the whole stack on the machine's PostgreSQL, Redis and RabbitMQ.

One switch: every store in one PostgreSQL database (made by `rapport run`), the atomic Redis
lock store, RabbitMQ as the event broker feeding the hub's exchange log. Each service is
checked by what it left behind: tracker events and CRM rows in PostgreSQL, the lock's
ticket counter in Redis, the exchange log's turns (which only RabbitMQ could have carried).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Iterator

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.support.scale_stack import scale_stack as start_scale_stack
from tests.support.scale_stack import skip_unless_servers_run
from tests.support.stack import Stack, rest_conversation, texts

pytestmark = pytest.mark.integration

CATCH_UP_S = 60  # only turns a hang into a failure


@pytest.fixture(scope="module")
def scale_stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Stack, str, str]]:
    skip_unless_servers_run()
    with start_scale_stack(trained_model, tmp_path_factory.mktemp("scale-profile")) as scale:
        yield scale.stack, scale.postgres_url, scale.queue


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
