"""Alembic environment of dbadmin's reference schema.

Run by ``dbadmin migrate ...``, which passes its settings and a prepared connection (advisory lock
held, per-revision ``SET LOCAL`` timeouts) in ``config.attributes``; or by plain ``alembic``, which
resolves the database the same way dbadmin does (flags aside: ``DATABASE_URL``, ``.env``, ``PG*``,
else the embedded server), takes the same advisory lock and applies the same timeouts.

Always the direct URL (never a Neon ``-pooler``), one transaction per revision, and autogenerate
compares types and server defaults.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from dbadmin.migrate.models import include_object, load_metadata
from dbadmin.migrate.runtime import LOCK_APPLICATION_NAME, install_timeouts

config = context.config
log = logging.getLogger("alembic.env")
if config.config_file_name and "dbadmin_settings" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)  # plain `alembic`


def _settings():  # type: ignore[no-untyped-def]
    settings = config.attributes.get("dbadmin_settings")
    if settings is None:
        from dbadmin.settings import resolve

        settings = resolve()
    return settings


settings = _settings()
target_metadata = load_metadata(settings)
COMMON = {
    "target_metadata": target_metadata,
    "compare_type": True,
    "compare_server_default": True,
    "include_object": include_object,
    "transaction_per_migration": True,
}


def run_migrations_offline() -> None:
    """`--sql`: no connection and no URL needed, so no secret can reach the output."""
    context.configure(dialect_name="postgresql", literal_binds=True, **COMMON)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # dbadmin's runner: lock and timeouts are already in place
        context.configure(connection=connection, **COMMON)
        with context.begin_transaction():
            context.run_migrations()
        return
    _run_standalone()


def _run_standalone() -> None:
    """Plain `alembic upgrade head`: the same lock (dbadmin's MigrationLock, which refuses a
    -pooler direct URL) and timeouts as `dbadmin migrate up`."""
    from alembic.util import CommandError

    from dbadmin.db import make_engine
    from dbadmin.errors import DbadminError
    from dbadmin.migrate.lock import MigrationLock

    if settings.embedded:
        from dbadmin.local import embedded_cluster

        embedded_cluster(settings.home).ensure_running()
    if settings.url.is_pooler and not settings.direct_url.is_pooler:
        log.info("using the direct endpoint %s (not the -pooler)", settings.direct_url.describe())
    try:
        with MigrationLock(settings, wait=60):
            _migrate(make_engine(settings, direct=True))
    except DbadminError as exc:  # e.g. a -pooler direct URL: one alembic error line
        raise CommandError(exc.one_line()) from None


def _migrate(engine) -> None:  # type: ignore[no-untyped-def]
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET application_name = '{LOCK_APPLICATION_NAME} (migrating)'"))
            conn.commit()
            install_timeouts(conn, lock_timeout_ms=5000, statement_timeout_ms=0)
            context.configure(connection=conn, **COMMON)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
