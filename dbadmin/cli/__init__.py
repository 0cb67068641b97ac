"""The Typer application: one module per command group, registered here.

Group modules import only typer and dbadmin's light modules at import time; SQLAlchemy, Alembic
and psycopg2 are imported inside the commands, so ``dbadmin --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

from dbadmin import __version__
from dbadmin.cli import backup as backup_cli
from dbadmin.cli import doctor, explain, local
from dbadmin.cli import health as health_cli
from dbadmin.cli import migrate as migrate_cli
from dbadmin.cli import schema as schema_cli
from dbadmin.cli import seed as seed_cli
from dbadmin.cli import slow as slow_cli
from dbadmin.cli.common import AppState, state

# The order `dbadmin --help` lists the commands in: the life of a database, not the alphabet.
COMMAND_ORDER = (
    "local",
    "doctor",
    "schema",
    "migrate",
    "seed",
    "explain",
    "slow-queries",
    "backup",
    "restore",
    "health",
)


class _OrderedGroup(TyperGroup):
    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    cls=_OrderedGroup,
    name="dbadmin",
    help=(
        "Administer the app's PostgreSQL/Neon database: schema, migrations, seed data, EXPLAIN "
        "reports, slow queries, backups and health.\n\n"
        "With no DATABASE_URL, commands use an embedded local PostgreSQL in ./.dbadmin.\n\n"
        "Example: dbadmin migrate up && dbadmin seed && dbadmin health"
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dbadmin {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            "-d",
            help="PostgreSQL URL (default: $DATABASE_URL, .env, else the embedded server).",
            show_default=False,
        ),
    ] = None,
    direct_url: Annotated[
        str | None,
        typer.Option(
            "--direct-url",
            help="Direct (non-pooled) URL for migrations/backups (default: $DATABASE_DIRECT_URL, "
            "or the -pooler host without -pooler).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    app_state = state(ctx)
    ctx.obj = AppState(
        database_url=database_url, direct_url=direct_url, debug=debug or app_state.debug
    )


# Command groups, one line each (COMMAND_ORDER sets how `dbadmin --help` lists them).
app.add_typer(local.app, name="local")
app.command("doctor")(doctor.doctor)
app.add_typer(schema_cli.app, name="schema")
app.add_typer(migrate_cli.app, name="migrate")
app.command("seed")(seed_cli.seed)
app.command("explain")(explain.explain)
app.add_typer(slow_cli.app, name="slow-queries")
app.add_typer(backup_cli.app, name="backup")
app.command("restore")(backup_cli.restore)
app.add_typer(health_cli.app, name="health")


def main() -> None:
    app(prog_name="dbadmin")
