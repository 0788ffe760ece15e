"""Writing a case change: lock, update, audit event and outbox rows;
core.py through SQLAlchemy, sqlite.py through the raw sqlite3 driver."""
