"""Kitaab's Alembic migrations (env.py and versions/), run by :mod:`.._migrate`."""
