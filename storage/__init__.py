"""Tables, the async database engine and the repository functions that own every query."""
