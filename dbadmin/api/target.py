"""What every API function takes first: the database (a ``Settings``, a URL, or nothing), and
the callbacks through which a caller hears notices and confirms destructive steps.

The API never prints: notices go to the ``notice`` callback (the CLI writes them on stderr, a cron
wrapper may log them); a destructive step calls ``confirm`` first (the CLI asks on a terminal or
requires ``--yes``; Python callers usually pass nothing, having decided already).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dbadmin.settings import Settings

Notice = Callable[[str], None]

_log = logging.getLogger("dbadmin")


class Confirm(Protocol):
    """Called before a destructive step with what it will do (and, for the most destructive,
    the word a person must type); it raises (e.g. ``UsageError``) to stop, returns to go on."""

    def __call__(self, action: str, *, typed: str | None = None) -> None: ...


def settings_for(target: Settings | str | None = None, *, need_server: bool = True) -> Settings:
    """The settings for ``target``, resolved as the CLI resolves ``--database-url``: a URL given
    here, else ``DATABASE_URL``/``.env``/``PG*``, else the embedded server, which is started when
    it is the target and ``need_server`` (as every CLI command does; told as an INFO record on
    the ``dbadmin`` logger)."""
    from dbadmin import settings as settings_mod

    if target is None or isinstance(target, str):
        resolved = settings_mod.resolve(database_url=target)
    else:
        resolved = target
    if resolved.embedded and need_server:
        from dbadmin.local import embedded_cluster

        started = embedded_cluster(resolved.home).ensure_running()
        _log.info(  # the CLI routes the dbadmin logger to stderr: its notice
            "%s the embedded PostgreSQL in %s (no DATABASE_URL set; `dbadmin local --help`)",
            "started" if started else "using",
            resolved.home,
        )
    return resolved


def say(notice: Notice | None, message: str) -> None:
    """Hand ``message`` to the caller's notice callback, if any."""
    if notice is not None:
        notice(message)


def ask(confirm: Confirm | None, action: str, *, typed: str | None = None) -> None:
    """Ask the caller's confirm callback, if any (none: the caller has decided)."""
    if confirm is not None:
        confirm(action, typed=typed)
