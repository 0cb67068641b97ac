"""`dbadmin doctor`: check the configuration, the server, the tools and the migrations."""

from __future__ import annotations

import typer

from dbadmin.cli.common import (
    get_settings,
    handle_errors,
    print_json,
    print_table,
)
from dbadmin.cli.options import DatabaseUrlOpt, JsonOpt


@handle_errors
def doctor(
    ctx: typer.Context, database_url: DatabaseUrlOpt = None, json_output: JsonOpt = False
) -> None:
    """Check the URL in use, server version, TLS, endpoint, pg_dump/pg_restore choice,
    pg_stat_statements and the migration revision. Exit 1 when a check fails.

    Example: dbadmin doctor --json
    """
    from dbadmin import api

    report = api.doctor(get_settings(ctx, database_url))
    if json_output:
        print_json(report.as_dict())
    else:
        from dbadmin.render import fit_table, key_col, styled_status, text_col

        rows = [(c.name, styled_status(c.status), c.value, c.advice) for c in report.checks]
        columns = (key_col("check"), key_col("status"), text_col("value", markup=False),
                   text_col("advice", markup=False))  # fmt: skip
        print_table(fit_table("dbadmin doctor", columns, rows))
    if report.connect_error is not None:
        raise report.connect_error
    if report.failed:
        raise typer.Exit(1)
