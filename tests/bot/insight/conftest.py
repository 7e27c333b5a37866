"""Fixtures of the exchange log's tests: its database (SQLite and PostgreSQL, the suite's
`make_db_url`), the store on it, and a server of this machine (RabbitMQ)."""

from __future__ import annotations

import secrets
from typing import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot.insight.exchange_log import ExchangeLog
from tests.bot.insight.insight_db import INSIGHT_SCHEMA
from tests.bot.insight.rabbitmq_world import HOST, PORT, Rabbit
from tests.support.postgres import DbSchema, nothing_listens


@pytest.fixture
def hub_url(make_db_url: Callable[[DbSchema], str]) -> str:
    """The exchange log's database for this test (once on SQLite, once on PostgreSQL)."""
    return make_db_url(INSIGHT_SCHEMA)


@pytest_asyncio.fixture
async def exchange_log(hub_url: str) -> AsyncIterator[ExchangeLog]:
    store = ExchangeLog.from_url(hub_url)
    yield store
    await store.close()


@pytest_asyncio.fixture
async def rabbit() -> AsyncIterator[Rabbit]:
    """A fresh queue and exchange on the machine's RabbitMQ, deleted afterwards."""
    if nothing_listens(HOST, PORT):
        pytest.skip(f"no RabbitMQ listening on {HOST}:{PORT}")
    tag = secrets.token_hex(6)
    world = Rabbit(queue=f"rapport_test_{tag}", exchange=f"rapport-test-{tag}")
    yield world
    await world.delete()
