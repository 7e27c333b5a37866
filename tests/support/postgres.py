"""The machine's PostgreSQL for tests: throwaway databases, created and dropped by the tests.

RAPPORT_TEST_PG_ADMIN_URL points at another server. The `pg_admin` fixture (tests/conftest.py)
skips, saying why, only when the server cannot be reached.
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

PG_ADMIN_URL = os.environ.get(
    "RAPPORT_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def admin_engine() -> Engine:
    return create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")


def create_pg_database(admin: Engine, prefix: str = "rapport_test") -> str:
    """A new, uniquely named, empty database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin: Engine, url: str) -> None:
    name = make_url(url).database
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
