"""The Typer application: one module per command group, imported only when it is needed.

``_COMMANDS`` names each root command's module and its ``dbadmin --help`` line, so the root
listing imports no group module and a run imports only the group it runs (``_LazyGroup``).
Group modules import only typer and dbadmin's light modules at import time; SQLAlchemy, Alembic
and psycopg2 are imported inside the commands, so ``dbadmin --help`` starts fast.
"""

from __future__ import annotations

import importlib
from gettext import gettext as _
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from dbadmin import __version__
from dbadmin.cli.common import AppState, add_debug_option, parse_error_exit, state
from dbadmin.errors import DbadminError

if TYPE_CHECKING:
    from typer._click import Command, HelpFormatter
    from typer._click import Context as ClickContext


class _Lazy(NamedTuple):
    module: str  # dbadmin.cli.<module>
    attr: str  # in it: a Typer sub-app (a command group) or a command function
    short_help: str  # the command's get_short_help_str(SHORT_HELP_LIMIT)


# Click lists a command with the first sentence of its help, cut to fit: help is at most 80
# columns wide, so at most 62 characters here (80 - 6 - len("slow-queries")); 80 covers every cut.
SHORT_HELP_LIMIT = 80

# Every root command, in the order `dbadmin --help` lists them (the life of a database, not the
# alphabet). tests/test_docs.py checks each short help against the loaded command.
_COMMANDS: dict[str, _Lazy] = {
    "local": _Lazy(
        "local",
        "app",
        "Manage the embedded PostgreSQL (data in $DBADMIN_HOME, default ./.dbadmin).",
    ),
    "doctor": _Lazy(
        "doctor",
        "doctor",
        "Check the URL in use, server version, TLS, endpoint, pg_dump/pg_restore...",
    ),
    "schema": _Lazy(
        "schema",
        "app",
        "The application schema: create it on an empty database, drop it, show it,...",
    ),
    "migrate": _Lazy(
        "migrate",
        "app",
        "Safe Alembic migrations: one migrator at a time (advisory lock),...",
    ),
    "seed": _Lazy(
        "seed",
        "seed",
        "Fill the database with realistic, deterministic data through COPY: parents...",
    ),
    "explain": _Lazy(
        "explain",
        "explain",
        "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, SETTINGS) one statement in a transaction...",
    ),
    "slow-queries": _Lazy(
        "slow",
        "app",
        "Slow queries from pg_stat_statements (with snapshot history) and from server...",
    ),
    "backup": _Lazy(
        "backup",
        "app",
        "Verified, atomic pg_dump backups with manifests; `dbadmin backup` alone =...",
    ),
    "restore": _Lazy(
        "backup",
        "restore",
        "Restore a verified backup: checksum first, typed confirmation, refuses...",
    ),
    "health": _Lazy(
        "health",
        "app",
        "Database health checks for people, cron and monitoring (Nagios exit codes: 0...",
    ),
    "audit": _Lazy(
        "audit",
        "app",
        "Security and access audit (TLS, roles, grants, row-level security, SECURITY...",
    ),
}
COMMAND_ORDER = tuple(_COMMANDS)


def _load(name: str) -> Command:
    """Import one command's module and build its click command exactly as registering it on the
    root app would (``add_typer`` / ``command``), with the root's help and error settings."""
    entry = _COMMANDS[name]
    target = getattr(importlib.import_module(f"dbadmin.cli.{entry.module}"), entry.attr)
    host = typer.Typer(
        add_completion=False,
        rich_markup_mode=app.rich_markup_mode,
        pretty_exceptions_short=app.pretty_exceptions_short,
        suggest_commands=app.suggest_commands,
    )
    if isinstance(target, typer.Typer):
        host.add_typer(target, name=name)
        group = typer.main.get_command(host)
        assert isinstance(group, TyperGroup)
        command = group.commands[name]
    else:
        host.command(name)(target)
        command = typer.main.get_command(host)  # one command: Typer returns it as is
    add_debug_option(command)
    return command


def _cut(text: str, limit: int) -> str:
    """Click's shortening of a help text to ``limit`` characters (first sentence, '...')."""
    return TyperCommand(name="", help=text).get_short_help_str(limit)


class _LazyGroup(TyperGroup):
    """The root group: lists ``_COMMANDS`` without importing them; imports a command's module
    when it runs, or when its help or completions are asked for."""

    def list_commands(self, ctx: ClickContext) -> list[str]:
        return list(COMMAND_ORDER)

    def get_command(self, ctx: ClickContext, cmd_name: str) -> Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: ClickContext, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in _COMMANDS and self.suggest_commands:
            # An unknown name: Typer's "Did you mean ...?" looks in self.commands, so load all.
            for name in COMMAND_ORDER:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        # A value the option types refuse (dbadmin.cli.options) is a DbadminError raised while
        # Click parses the command's arguments: one error line, the error's exit code.
        try:
            return super().invoke(ctx)
        except DbadminError as exc:
            raise parse_error_exit(ctx, exc) from None

    def format_commands(self, ctx: typer.Context, formatter: HelpFormatter) -> None:  # type: ignore[override]
        # TyperGroup.format_commands, with the short helps from _COMMANDS.
        limit = formatter.width - 6 - max(len(name) for name in _COMMANDS)
        rows = [(name, _cut(entry.short_help, limit)) for name, entry in _COMMANDS.items()]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


app = typer.Typer(
    cls=_LazyGroup,
    name="dbadmin",
    help=(
        "Administer the app's PostgreSQL/Neon database: schema, migrations, seed data, EXPLAIN "
        "reports, slow queries, backups and health.\n\n"
        "With no DATABASE_URL, commands use an embedded local PostgreSQL in $DBADMIN_HOME "
        "(default ./.dbadmin).\n\n"
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


def main() -> None:
    from dbadmin import signals

    signals.install()  # SIGTERM/SIGHUP clean up like Ctrl-C (exit 143/129)
    app(prog_name="dbadmin")
