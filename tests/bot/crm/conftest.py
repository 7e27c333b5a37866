"""Shared CRM fixtures: real SQLite and PostgreSQL databases at the current schema.

`db_url` comes from the suite's `make_db_url` (tests/conftest.py), parametrised over both
backends: SQLite gets a fresh file per test (a copy of one migrated template); PostgreSQL gets
one uniquely named database per test session, emptied before each test and dropped at the end.
Set RAPPORT_TEST_PG_ADMIN_URL to use another server; the PostgreSQL cases skip only when
nothing listens there.
"""

from __future__ import annotations

from datetime import date
from typing import AsyncIterator, Callable, Iterator

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine

from bot.brand import Brand, load_brand
from bot.database import make_engine
from bot.crm.models import metadata
from bot.crm.upgrade import upgrade_schema
from bot.crm.seed import seed_demo
from bot.crm.http import HttpCrm
from bot.crm.reference_server import create_crm_api
from bot.crm.sql import SqlCrm

from tests.support.postgres import DbSchema

from .helpers import API_TOKEN

from tests.support import PROJECT


CRM_SCHEMA = DbSchema("rapport_crm_test", "crm.db", create=upgrade_schema, metadata=metadata)
NO_TABLES = DbSchema("rapport_crm_empty", "empty/crm.db")


@pytest.fixture
def db_url(make_db_url: Callable[[DbSchema], str]) -> str:
    """A CRM database at head with no rows, on SQLite and on PostgreSQL."""
    return make_db_url(CRM_SCHEMA)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def brand() -> Brand:
    return load_brand(PROJECT / "brand")


@pytest.fixture
def seeded(engine: Engine, brand: Brand) -> Engine:
    """The engine with a small demo data set (the well-known records and 6 others)."""
    seed_demo(engine, brand, customers=10, seed=7, today=date.today())
    return engine


@pytest_asyncio.fixture
async def crm(seeded: Engine) -> AsyncIterator[SqlCrm]:
    crm = SqlCrm(seeded)
    yield crm
    await crm.close()


@pytest_asyncio.fixture
async def http_crm(crm: SqlCrm, aiohttp_server) -> AsyncIterator[HttpCrm]:
    """An HttpCrm talking to the reference API server over `crm` (the seeded SqlCrm)."""
    server = await aiohttp_server(create_crm_api(crm, api_token=API_TOKEN))
    async with aiohttp.ClientSession() as session:
        client = HttpCrm(session, str(server.make_url("/")), api_token=API_TOKEN, timeout=5,
                         retries=1, backoff=0.01)
        yield client
        await client.close()


@pytest.fixture(params=["sql", "http"])
def any_crm(request: pytest.FixtureRequest):
    """The seeded CRM, as SqlCrm or as HttpCrm through the reference server."""
    return request.getfixturevalue("crm" if request.param == "sql" else "http_crm")


@pytest.fixture
def empty_db_url(make_db_url: Callable[[DbSchema], str]) -> str:
    """A database with no tables at all (a new PostgreSQL database per test)."""
    return make_db_url(NO_TABLES)
