"""The nodes blueprint's Alembic migrations."""
