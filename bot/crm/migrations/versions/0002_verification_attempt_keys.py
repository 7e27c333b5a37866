"""Verification attempts keyed by client and hashed contact, reserved before they are settled.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verification_attempts") as batch:
        batch.add_column(sa.Column("client", sa.String(length=255), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("contact_hash", sa.String(length=64), nullable=False,
                                   server_default=""))
        batch.alter_column("succeeded", existing_type=sa.Boolean(), nullable=True)
    with op.batch_alter_table("verification_attempts") as batch:
        batch.alter_column("client", server_default=None)
        batch.alter_column("contact_hash", server_default=None)
    op.create_index("ix_verification_attempts_client_at", "verification_attempts",
                    ["client", "at"])
    op.create_index("ix_verification_attempts_contact_hash_at", "verification_attempts",
                    ["contact_hash", "at"])
    op.create_index("ix_verification_attempts_at", "verification_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_at", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_contact_hash_at", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_client_at", table_name="verification_attempts")
    op.execute("DELETE FROM verification_attempts WHERE succeeded IS NULL")
    with op.batch_alter_table("verification_attempts") as batch:
        batch.alter_column("succeeded", existing_type=sa.Boolean(), nullable=False)
        batch.drop_column("contact_hash")
        batch.drop_column("client")
