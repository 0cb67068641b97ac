"""Options shared by `dbadmin backup ...` and `dbadmin restore`."""

from __future__ import annotations

from typing import Annotated

import typer

FormatOpt = Annotated[
    str,
    typer.Option("--format", "-F", help="custom (default), directory or plain (SQL script)."),
]
JobsOpt = Annotated[
    int, typer.Option("--jobs", "-j", min=1, help="Parallel pg_dump workers (directory format).")
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
    typer.Option("--name", help="Backup name (default: DBNAME-UTCTIMESTAMP).", show_default=False),
]
SchemaOnlyOpt = Annotated[bool, typer.Option("--schema-only", help="Dump the schema, no data.")]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude-table", "-T", help="Leave out this table (pg_dump pattern); repeatable."
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
    str | None,
    typer.Option(
        "--timeout",
        help="Give up after this long (e.g. 30m, 2h; a bare number is seconds): the run is "
        "stopped, nothing is kept or changed, exit 4. Default: no limit.",
        show_default=False,
    ),
]

BackupYesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Accepted for uniform cron lines; a backup never asks."),
]
