"""`dbadmin local`: manage the embedded PostgreSQL server used when no URL is configured."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import typer

from dbadmin.cli.common import (
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)
from dbadmin.cli.options import JsonOpt, YesOpt

if TYPE_CHECKING:
    from dbadmin.local import Cluster

app = typer.Typer(
    help="Manage the embedded PostgreSQL (data in $DBADMIN_HOME, default ./.dbadmin).\n\n"
    "Example: dbadmin local status",
    no_args_is_help=True,
)


def _cluster(ctx: typer.Context) -> Cluster:
    """The embedded cluster in $DBADMIN_HOME resolved like every other command (env, then .env)."""
    from dbadmin.api import local_cluster

    return local_cluster(get_settings(ctx, need_server=False))


@app.command()
@handle_errors
def start(ctx: typer.Context) -> None:
    """Start the embedded server (initialising it on first use).

    Example: dbadmin local start
    """
    cluster = _cluster(ctx)
    started = cluster.ensure_running()
    notice(("started" if started else "already running") + f": {cluster.pgdata}")


@app.command()
@handle_errors
def stop(ctx: typer.Context) -> None:
    """Stop the embedded server (data is kept).

    Example: dbadmin local stop
    """
    cluster = _cluster(ctx)
    notice("stopped" if cluster.stop() else "not running")


@app.command()
@handle_errors
def status(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Show whether the embedded server runs, its data directory and URL.

    Exit status as LSB init scripts have it: 0 running, 3 not running.

    Example: dbadmin local status --json
    """
    from dbadmin import api

    found = api.local_status(get_settings(ctx, need_server=False))
    doc = found.as_dict()
    if json_output:
        print_json(doc)
    else:
        console = out_console()
        for key, value in doc.items():
            if isinstance(value, bool):  # not a dict lookup: pid 1 == True would show "yes"
                shown = "yes" if value else "no"
            else:
                shown = "-" if value is None else str(value)
            console.print(f"[bold]{key:12}[/bold] {shown}", highlight=False)
    if not found.running:
        raise typer.Exit(LSB_NOT_RUNNING)


LSB_NOT_RUNNING = 3  # LSB: "program is not running"


@app.command()
@handle_errors
def url(ctx: typer.Context) -> None:
    """Print the embedded server's connection URL (starts it if needed).

    Example: export DATABASE_URL=$(dbadmin local url)
    """
    from dbadmin import api

    typer.echo(api.local_url(get_settings(ctx, need_server=False)))


@app.command()
@handle_errors
def destroy(ctx: typer.Context, yes: YesOpt = False) -> None:
    """Stop the embedded server and delete its data (backups are kept).

    Example: dbadmin local destroy --yes
    """
    from dbadmin import api

    deleted = api.local_destroy(
        get_settings(ctx, need_server=False), confirm=partial(confirm, yes=yes)
    )
    notice(f"deleted {deleted}")
