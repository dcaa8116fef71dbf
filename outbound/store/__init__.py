"""Storage: the tables, the engine (SQLite WAL or PostgreSQL), migrations, and the queries."""
