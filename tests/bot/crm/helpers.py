"""Helpers the CRM tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from bot.crm.models import metadata

API_TOKEN = "test-token-not-secret"
PG_ADMIN_URL = os.environ.get(
    "RAPPORT_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def admin_engine() -> Engine:
    return create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")


def create_pg_database(admin: Engine, prefix: str = "rapport_crm_test") -> str:
    """A new, uniquely named, empty database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin: Engine, url: str) -> None:
    name = make_url(url).database
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per CRM table, to show that a call changed nothing."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                text(f'SELECT COUNT(*) FROM "{table.name}"')
            ).scalar_one()
            for table in metadata.sorted_tables
        }
