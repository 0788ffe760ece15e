"""Storing incoming mentions: the row types, the SQLAlchemy writer, and the
raw-driver writers for SQLite and PostgreSQL side by side."""
