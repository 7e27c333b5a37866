"""Cases keyed by the caller's request, so a turn run twice opens its case once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=200), nullable=True))
    # A unique index, not a constraint: NULL (an unkeyed case) may repeat on SQLite and
    # PostgreSQL alike, and SQLite adds an index without rebuilding the table.
    op.create_index("ix_cases_request_key", "cases", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_cases_request_key", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("request_key")
