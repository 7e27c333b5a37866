"""Handoff stores on real SQLite and PostgreSQL databases.

`db` is parametrised over both: SQLite gets a fresh file per test; PostgreSQL gets one
uniquely named database per session, emptied before each test and dropped at the end.
RAPPORT_TEST_PG_ADMIN_URL points at another server; unreachable, the PostgreSQL cases skip
saying why.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from bot.handoff.agents import AgentDirectory
from bot.handoff.schema import Database, create_tables, metadata, open_database
from bot.handoff.store import HandoffStore
from tests.support.passwords import fast_password_hashing  # noqa: F401 (autouse)

PG_ADMIN_URL = os.environ.get(
    "RAPPORT_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_hub_url() -> Iterator[str]:
    admin: Engine = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {reason}")
    name = f"rapport_hub_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
