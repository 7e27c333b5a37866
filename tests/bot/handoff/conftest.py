"""Handoff stores on real SQLite and PostgreSQL databases.

`db` is parametrised over both: SQLite gets a fresh file per test; PostgreSQL gets one
uniquely named database per session, emptied before each test and dropped at the end.
RAPPORT_TEST_PG_ADMIN_URL points at another server; unreachable, the PostgreSQL cases skip
saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine

from bot.handoff.agents import AgentDirectory
from bot.handoff.tables import Database, create_tables, metadata, open_database
from bot.handoff.store import HandoffStore
from tests.support.passwords import fast_password_hashing  # noqa: F401 (autouse)
from tests.support.postgres import create_pg_database, drop_pg_database

@pytest.fixture(scope="session")
def pg_hub_url(pg_admin: Engine) -> Iterator[str]:
    url = create_pg_database(pg_admin, "rapport_hub_test")
    try:
        yield url
    finally:
        drop_pg_database(pg_admin, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url = request.getfixturevalue("pg_hub_url")
    engine = open_database(url).engine
    try:
        create_tables(engine)
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()
    return url


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
