"""The embedded PostgreSQL (used when no URL is configured) from Python: ``local_start``,
``local_stop``, ``local_status``, ``local_url``, ``local_destroy``. Its home is
``$DBADMIN_HOME`` (default ``./.dbadmin``), resolved as every command resolves it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Confirm, ask, settings_for

if TYPE_CHECKING:
    from dbadmin.local import Cluster, ServerStatus
    from dbadmin.settings import Settings


@dataclass(frozen=True)
class LocalStatus:
    status: ServerStatus

    @property
    def running(self) -> bool:
        return self.status.running

    def as_dict(self) -> dict[str, Any]:
        info = self.status
        return {
            "running": info.running,
            "initialized": info.initialized,
            "pid": info.pid,
            "pgdata": str(info.pgdata),
            "url": info.url.masked(),
            "version": info.version,
            "log_file": str(info.log_file),
        }


def local_cluster(target: Settings | str | None = None) -> Cluster:
    """The embedded cluster in the settings' home (nothing is started)."""
    from dbadmin.local import embedded_cluster

    return embedded_cluster(settings_for(target, need_server=False).home)


def local_start(target: Settings | str | None = None) -> bool:
    """Start the embedded server (initialising it on first use); False when it already ran."""
    return local_cluster(target).ensure_running()


def local_stop(target: Settings | str | None = None) -> bool:
    """Stop the embedded server (data is kept); False when it was not running."""
    return local_cluster(target).stop()


def local_status(target: Settings | str | None = None) -> LocalStatus:
    """Whether the embedded server runs, its data directory, URL (masked) and version."""
    return LocalStatus(local_cluster(target).status())


def local_url(target: Settings | str | None = None) -> str:
    """The embedded server's connection URL, starting it if needed."""
    cluster = local_cluster(target)
    cluster.ensure_running()
    return cluster.url().render()


def local_destroy(target: Settings | str | None = None, *, confirm: Confirm | None = None) -> str:
    """Stop the embedded server and delete its data (backups are kept); returns the data
    directory deleted. ``confirm`` is asked first, with ``destroy`` to type."""
    cluster = local_cluster(target)
    ask(confirm, f"delete the embedded database in {cluster.pgdata}", typed="destroy")
    cluster.destroy()
    return str(cluster.pgdata)
