"""An object's write intents indexed newest first: a vendor create finds the write before it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_write_intents_object",
        "write_intents",
        ["connection_id", "fb_type", "fb_id", "ramp_type", "operation", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_write_intents_object", table_name="write_intents")
