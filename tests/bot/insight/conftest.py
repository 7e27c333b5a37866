"""Fixtures of the exchange log's tests that need a server of this machine."""

from __future__ import annotations

import secrets
from typing import AsyncIterator

import pytest
import pytest_asyncio

from tests.bot.insight.rabbitmq_world import HOST, PORT, Rabbit
from tests.support.postgres import nothing_listens


@pytest_asyncio.fixture
async def rabbit() -> AsyncIterator[Rabbit]:
    """A fresh queue and exchange on the machine's RabbitMQ, deleted afterwards."""
    if nothing_listens(HOST, PORT):
        pytest.skip(f"no RabbitMQ listening on {HOST}:{PORT}")
    tag = secrets.token_hex(6)
    world = Rabbit(queue=f"rapport_test_{tag}", exchange=f"rapport-test-{tag}")
    yield world
    await world.delete()
