"""Options shared by more than one command, declared once, and the parameter types that give a
value one meaning everywhere.

- :class:`Duration`: every option that takes a length of time (``250ms``, ``2s``, ``5m``, ``1h``;
  a bare number is seconds, or milliseconds where the option says so). tests/test_cli_conventions.py
  fails on a duration-like option declared without it.
- :class:`OneOf`: a closed set of values (Typer's Click ``Choice``, so shells complete it).

Both report a bad value as dbadmin's one-line usage error (``dbadmin: error: --timeout 'soon' is
not a duration — ...``, exit 2; 3 UNKNOWN under health/audit): they raise
:class:`dbadmin.errors.UsageError` while Click parses, and the command groups turn it into the
error line (see :func:`dbadmin.cli.common.parse_error_exit`), before anything connects.

The table of short flags (one meaning each across the CLI) is in docs/cli-conventions.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

# Typer 0.28 (pinned) vendors Click as typer._click; option types must derive from its classes
from typer._click.types import ParamType
from typer._types import TyperChoice

from dbadmin.durations import parse_duration
from dbadmin.errors import UsageError


def _flag(param: Any) -> str:
    """The option's long name for messages (``--timeout``)."""
    opts = list(getattr(param, "opts", None) or ["value"])
    return max(opts, key=len)


class Duration(ParamType):
    """A length of time in the shared syntax (:mod:`dbadmin.durations`), converted to a float in
    ``unit`` (seconds by default). ``allow_zero``: 0 means "no wait"/"no limit" for this option."""

    name = "duration"

    def __init__(self, unit: str = "s", *, allow_zero: bool = False) -> None:
        self.unit = unit
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # a default, or a value a group already converted and hands on
            if value < 0 or (value == 0 and not self.allow_zero):
                raise UsageError(f"{_flag(param)} must be positive")
            return float(value)
        return parse_duration(str(value), _flag(param), unit=self.unit, allow_zero=self.allow_zero)


class OneOf(TyperChoice[str]):
    """One of ``choices`` (case-sensitive); anything else is ``unknown WHAT 'x' — use one of ...``
    (the wording the commands' own checks used, so messages did not change)."""

    def __init__(self, choices: Sequence[str], what: str) -> None:
        super().__init__(tuple(choices), case_sensitive=True)
        self.what = what

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value in self.choices:
            return value
        raise UsageError(f"unknown {self.what} {value!r}", f"use one of {', '.join(self.choices)}")


# --- connection and output ------------------------------------------------------------------------
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "-d",
        help="PostgreSQL URL (default: $DATABASE_URL, .env, else the embedded local server).",
        show_default=False,
        rich_help_panel="Connection",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every column in full, even when lines get longer than the terminal.",
    ),
]
YesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a terminal)."),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        help="Your alembic.ini (default: $DBADMIN_ALEMBIC_CONFIG, ./alembic.ini, else dbadmin's "
        "reference migrations).",
        show_default=False,
    ),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option("--html", help="Also write a single-file HTML report here.", show_default=False),
]
TopOpt = Annotated[int, typer.Option("--top", "-n", help="How many statements to show.")]

# --- health and audit (Nagios plugins) ------------------------------------------------------------
CheckOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--check",
        "-c",
        help="Run only this check (repeatable or comma-separated).",
        show_default=False,
    ),
]
SkipOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--skip",
        help="Skip this check (repeatable or comma-separated).",
        show_default=False,
    ),
]
NagiosOpt = Annotated[
    bool,
    typer.Option(
        "--nagios",
        is_eager=True,  # known before any other value fails, for the UNKNOWN plugin line
        help="Print one Nagios plugin line (health: with perfdata).",
    ),
]
CheckTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        click_type=Duration(),
        help="Bound on the whole run, connect retries included.",
    ),
]

# --- backup and restore ---------------------------------------------------------------------------
BACKUP_FORMATS = ("custom", "directory", "plain")  # dbadmin.backup.manifest.FORMATS (tested)
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-F",
        click_type=OneOf(BACKUP_FORMATS, "--format"),
        help="custom (default), directory or plain (SQL script).",
    ),
]
JobsOpt = Annotated[
    int,
    typer.Option("--jobs", "-j", min=1, help="Parallel pg_dump workers (directory format)."),
]
CompressOpt = Annotated[
    str | None,
    typer.Option(
        "--compress",
        "-Z",
        help="zstd|gzip|lz4|none[:LEVEL] (default: pg_dump's; zstd/lz4 need pg_dump 16+).",
        show_default=False,
    ),
]
DirOpt = Annotated[
    str | None,
    typer.Option(
        "--dir",
        help="Backup directory or s3://BUCKET/PREFIX (default: $DBADMIN_BACKUP_DIR or "
        "$DBADMIN_HOME/backups).",
        show_default=False,
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="S3-compatible endpoint for s3:// (MinIO, R2...; default: $AWS_ENDPOINT_URL).",
        show_default=False,
    ),
]
EncryptOpt = Annotated[
    bool,
    typer.Option(
        "--encrypt",
        help="AES-256-GCM with the key in $DBADMIN_BACKUP_KEY or $DBADMIN_BACKUP_KEY_FILE.",
    ),
]
NameOpt = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="Backup name (default: DBNAME-UTCTIMESTAMP).",
        show_default=False,
    ),
]
SchemaOnlyOpt = Annotated[bool, typer.Option("--schema-only", help="Dump the schema, no data.")]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-table",
        "-T",
        help="Leave out this table (pg_dump pattern); repeatable.",
    ),
]
PgBinOpt = Annotated[
    str | None,
    typer.Option(
        "--pg-bin",
        envvar="DBADMIN_PG_BIN",
        help="Use pg_dump/pg_restore/psql from this directory instead of choosing one.",
        show_default=False,
    ),
]
NoRelayOpt = Annotated[
    bool,
    typer.Option(
        "--no-relay", help="Fail (exit 2) instead of relaying TLS for a pg_dump without TLS."
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        click_type=Duration(),
        help="Give up after this long (e.g. 30m, 2h; a bare number is seconds): the run is "
        "stopped, nothing is kept or changed, exit 4. Default: no limit.",
        show_default=False,
    ),
]
BackupYesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Accepted for uniform cron lines; a backup never asks."),
]
