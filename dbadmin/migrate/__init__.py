"""Alembic wrapper: locating the configuration, advisory lock, timeouts, checksums, lint."""
