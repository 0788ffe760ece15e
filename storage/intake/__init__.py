"""Storing incoming mentions: what a batch is made of (rows.py), what happens to it (store.py),
and its writers side by side: SQLAlchemy Core (core.py), raw sqlite3 and asyncpg arrays."""
