"""The app database: SQLAlchemy models, Alembic migrations, engines and queries.

Nothing outside this package touches a session's SQL directly.
"""
