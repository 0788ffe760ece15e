"""The database: tables, engine and units of work, and the functions that own every query;
intake/ and transitions/ hold the hot paths' writers, migrations/ the schema's history."""
