"""The NLU inbox's own table, in the hub database (`RAPPORT_HUB_DB_URL`).

`insight_inbox_labels`: what an analyst decided about one customer turn of the exchange log
(`insight_turns` in bot/insight/tables.py): labelled with an intent (and written to the
training data), or dismissed. A turn with a row here has left the inbox. Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table
from sqlalchemy.engine import Engine

from bot.database import create_tables

LABELLED = "labelled"
DISMISSED = "dismissed"
STATUSES = (LABELLED, DISMISSED)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})
_Id = BigInteger().with_variant(Integer, "sqlite")  # the same type as insight_turns.id

inbox_labels = Table(
    "insight_inbox_labels", metadata,
    Column("turn_id", _Id, primary_key=True, autoincrement=False),  # insight_turns.id
    Column("status", String(16), nullable=False),  # labelled | dismissed
    Column("intent", String(128)),  # the label; None when dismissed
    Column("labelled_by", String(64), nullable=False),  # the analyst's login name, or "cli"
    Column("labelled_at", DateTime, nullable=False, index=True),
)


def create_inbox_tables(engine: Engine) -> None:
    """Create the inbox's table if it is missing (safe from several processes)."""
    create_tables(engine, metadata)
