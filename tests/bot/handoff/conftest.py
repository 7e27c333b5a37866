"""Handoff stores on real SQLite and PostgreSQL databases.

`db` is parametrised over both (the suite's `make_db_url`): SQLite gets a fresh file per
test; PostgreSQL gets one uniquely named database per session, emptied before each test and
dropped at the end. RAPPORT_TEST_PG_ADMIN_URL points at another server; the PostgreSQL cases
skip only when nothing listens there.
"""

from __future__ import annotations

from typing import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot.handoff.agents import AgentDirectory
from bot.handoff.tables import Database, create_hub_tables, metadata, open_database
from bot.handoff.store import HandoffStore
from tests.support.passwords import fast_password_hashing  # noqa: F401 (autouse)
from tests.support.postgres import DbSchema


def _create_hub_tables(url: str) -> None:
    engine = open_database(url).engine
    try:
        create_hub_tables(engine)
    finally:
        engine.dispose()


HUB_SCHEMA = DbSchema("rapport_hub_test", "hub.db", create=_create_hub_tables, metadata=metadata)


@pytest.fixture
def hub_url(make_db_url: Callable[[DbSchema], str]) -> str:
    """A hub database with its tables and no rows, on SQLite and on PostgreSQL."""
    return make_db_url(HUB_SCHEMA)


@pytest_asyncio.fixture
async def db(hub_url: str) -> AsyncIterator[Database]:
    database = open_database(hub_url)
    yield database
    await database.close()


@pytest.fixture
def store(db: Database) -> HandoffStore:
    return HandoffStore(db)


@pytest.fixture
def directory(db: Database) -> AgentDirectory:
    return AgentDirectory(db)
