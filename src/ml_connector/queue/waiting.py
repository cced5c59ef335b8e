"""The "waiting" predicate every queue statement shares, written so indexes can serve it.

The states are inlined, not bound: a planner can only use a partial index (waiting jobs
by unique key, by connection) when it can prove from the query's own text that it wants
only rows the index holds. With bound states SQLite scanned every waiting job to find
one unique key. ON CONFLICT must name the index's predicate as literal SQL too: with
bound parameters, PostgreSQL cannot infer the index once psycopg prepares the statement
(after a few executions on one connection) and the insert fails.
"""

from __future__ import annotations

import sqlalchemy as sa

from ml_connector.store.schema import WAITING_STATES, jobs

WAITING = jobs.c.state.in_([sa.literal_column(f"'{state}'") for state in WAITING_STATES])
WAITING_SQL = "state IN (" + ", ".join(f"'{state}'" for state in WAITING_STATES) + ")"
WAITING_TEXT = sa.text(WAITING_SQL)

__all__ = ["WAITING", "WAITING_SQL", "WAITING_TEXT"]
