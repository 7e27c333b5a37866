"""Helpers the CRM tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.crm.models import metadata

API_TOKEN = "test-token-not-secret"
def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per CRM table, to show that a call changed nothing."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                text(f'SELECT COUNT(*) FROM "{table.name}"')
            ).scalar_one()
            for table in metadata.sorted_tables
        }
