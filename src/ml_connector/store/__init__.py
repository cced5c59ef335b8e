"""Persistence: SQLAlchemy Core tables, engines, migrations, encrypted credentials.

With `queue`, the only place that knows SQL.
"""
