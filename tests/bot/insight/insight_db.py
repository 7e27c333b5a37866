"""The exchange log's database for tests: its schema for `make_db_url`, and reading rows back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Engine

from bot.database import make_engine
from bot.insight.tables import create_insight_tables, metadata
from tests.support.postgres import DbSchema


def _create(url: str) -> None:
    engine = make_engine(url)
    try:
        create_insight_tables(engine)
    finally:
        engine.dispose()


INSIGHT_SCHEMA = DbSchema("rapport_exchange_log_test", "hub.db", create=_create,
                          metadata=metadata)


def rows(engine: Engine, table: Table, *order: Any) -> list[dict[str, Any]]:
    """Every row of `table` as dicts, in `order` (default: the primary key)."""
    order = order or tuple(table.primary_key.columns)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table).order_by(*order))]
