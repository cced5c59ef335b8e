"""Waiting jobs indexed by connection and claim order: claims stop sorting the whole queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_WAITING = sa.text("state IN ('available', 'retryable')")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_waiting_by_connection",
        "jobs",
        ["connection_id", "priority", "scheduled_at", "id"],
        unique=False,
        sqlite_where=_WAITING,
        postgresql_where=_WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_waiting_by_connection", table_name="jobs")
