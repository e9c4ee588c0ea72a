"""The schema, migrations and repository functions; SQLite and PostgreSQL."""
