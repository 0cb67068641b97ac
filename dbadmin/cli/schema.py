"""`dbadmin schema`: create, drop, inspect and diff the application schema."""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from dbadmin.cli.common import (
    confirm,
    get_settings,
    handle_errors,
    notice,
    out_console,
    print_json,
)
from dbadmin.cli.options import ConfigOpt, DatabaseUrlOpt, JsonOpt, YesOpt

app = typer.Typer(
    help="The application schema: create it on an empty database, drop it, show it, diff it "
    "against the models.\n\n`schema docs` writes its documentation with ER diagrams (any "
    "schema) and checks that committed docs still match.\n\nExample: dbadmin schema show --json",
    no_args_is_help=True,
)


@app.command()
@handle_errors
def create(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Create every table of the models on an EMPTY database, then stamp it at head.

    Refuses (exit 1) when tables exist: use `dbadmin migrate up` there.

    Example: dbadmin schema create
    """
    from dbadmin import api

    created = api.schema_create(get_settings(ctx, database_url), config=config)
    result = created.result
    if json_output:
        print_json(created.as_dict())
    else:
        out_console().print(
            f"created {len(result.tables)} tables; stamped at {', '.join(result.stamped)}",
            highlight=False,
        )


@app.command()
@handle_errors
def drop(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    config: ConfigOpt = None,
    yes: YesOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Drop the models' tables (with their data) and the migration bookkeeping.

    On a terminal you type the database name to confirm; otherwise --yes is required.

    Example: dbadmin schema drop --yes
    """
    from dbadmin import api

    dropped = api.schema_drop(
        get_settings(ctx, database_url), config=config, confirm=partial(confirm, yes=yes)
    )
    result = dropped.result
    if json_output:
        print_json(dropped.as_dict())
    else:
        console = out_console()
        console.print(f"dropped {len(result.dropped)} tables", highlight=False)
        if result.remaining:
            console.print(
                f"left alone (not in the models): {', '.join(result.remaining)}", highlight=False
            )


@app.command()
@handle_errors
def show(
    ctx: typer.Context,
    table: Annotated[
        str | None, typer.Argument(help="Only this table (name or schema.name).")
    ] = None,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Tables with row estimates and sizes; with TABLE, its columns, indexes and foreign keys.

    Example: dbadmin schema show tasks
    """
    from dbadmin import api

    shown = api.schema_show(get_settings(ctx, database_url), table)
    if json_output:
        print_json(shown.as_dict())
        return
    report = shown.report
    from dbadmin.render import fit_table, human_bytes, key_col, num_col, text_col

    console = out_console()
    if table is None:
        rows = [
            (
                t.qualified,
                "-" if t.row_estimate is None else f"~{t.row_estimate:,}",
                human_bytes(t.total_bytes),
                human_bytes(t.index_bytes),
                len(t.columns),
                len(t.indexes),
                len(t.foreign_keys),
            )
            for t in report.tables
        ]
        columns = (text_col("table", min_width=20), num_col("rows"), num_col("total"), num_col("indexes"),
                   num_col("cols"), num_col("idx"), num_col("fks"))  # fmt: skip
        title = f"database {report.database} (PostgreSQL {report.server_version})"
        console.print(fit_table(title, columns, rows), crop=False)
        return
    for t in report.tables:
        estimate = "never analyzed" if t.row_estimate is None else f"~{t.row_estimate:,} rows"
        console.print(
            f"{t.qualified}: {estimate}, {human_bytes(t.total_bytes)} "
            f"(table {human_bytes(t.table_bytes)}, indexes {human_bytes(t.index_bytes)})",
            highlight=False,
        )
        console.print(
            fit_table(
                "columns",
                (
                    key_col("column"),
                    text_col("type", min_width=12),
                    key_col("null"),
                    text_col("default"),
                ),
                (
                    (
                        c.name,
                        c.type,
                        "yes" if c.nullable else "no",
                        c.default or (f"identity ({c.identity})" if c.identity else ""),
                    )
                    for c in t.columns
                ),
            ),
            crop=False,
        )
        console.print(
            fit_table(
                "indexes",
                (text_col("index"), text_col("definition", markup=False), num_col("size")),
                ((i.name, i.definition, human_bytes(i.size_bytes)) for i in t.indexes),
            ),
            crop=False,
        )
        constraints = [(c.name, c.type, c.definition) for c in t.constraints]
        if constraints:
            shape = (text_col("name"), key_col("type"), text_col("definition", markup=False))
            console.print(fit_table("constraints", shape, constraints), crop=False)


@app.command()
@handle_errors
def diff(
    ctx: typer.Context,
    database_url: DatabaseUrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Differences between the models (DBADMIN_MODELS or the reference schema) and the
    database; exit 1 when they differ.

    Example: dbadmin schema diff --json
    """
    from dbadmin import api

    compared = api.schema_diff(get_settings(ctx, database_url))
    result = compared.result
    if json_output:
        print_json(compared.as_dict())
    else:
        console = out_console()
        if result.identical:
            console.print("no differences: the database matches the models", highlight=False)
        for line in result.differences:
            console.print(f"- {line}", highlight=False)
    if not result.identical:
        raise typer.Exit(1)


class DocsFormat(StrEnum):
    markdown = "markdown"
    json = "json"


@app.command()
@handle_errors
def docs(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Directory of the Markdown pages."),
    ] = Path("docs/schema"),
    schema: Annotated[
        list[str] | None,
        typer.Option(
            "--schema", "-s", help="Document this schema (repeatable; default: every user schema)."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 with a short diff when DIR does not match."
        ),
    ] = False,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Add rounded row estimates and sizes (they change with the data: keep them out "
            "of docs that --check guards).",
        ),
    ] = False,
    output_format: Annotated[
        DocsFormat,
        typer.Option(
            "--format", help="markdown: write pages to DIR; json: one document on stdout."
        ),
    ] = DocsFormat.markdown,
    html_file: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write one self-contained HTML page (diagrams drawn, no network) instead of the "
            "Markdown pages.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Schema documentation with ER diagrams: an index and one Markdown page per table, view,
    enum and domain; --check keeps committed docs true (exit 1 when they drifted).

    Example: dbadmin schema docs --out docs/schema && dbadmin schema docs --check
    """
    from dbadmin import api
    from dbadmin.errors import UsageError

    if output_format is DocsFormat.json and (check or html_file is not None):
        raise UsageError("--format json prints the document; it takes neither --check nor --html")
    if check and html_file is not None:
        raise UsageError("--check compares the Markdown pages; leave out --html")
    settings = get_settings(ctx, database_url)
    schemas = tuple(schema or ())
    if output_format is DocsFormat.json:
        print_json(api.schema_docs(settings, schemas=schemas).as_dict())
        return
    if html_file is not None:
        count = api.schema_docs_html(settings, html_file, schemas=schemas, stats=stats)
        notice(f"wrote {html_file} ({count} pages)")
        return
    result = api.schema_docs_write(settings, out, schemas=schemas, stats=stats, check=check)
    console = out_console()

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    if result.up_to_date:
        say(f"{out}: up to date ({result.pages} pages)")
        return
    verb = {"changed": "changed", "missing": "new", "stale": "removed"}
    for change in result.changes:
        say(f"{verb[change.status]}: {out / change.path}")
        for line in change.diff:
            say(f"    {line}")
    if check:
        say(
            f"{out}: {len(result.changes)} of the pages differ from the database; "
            "regenerate with `dbadmin schema docs`"
        )
        raise typer.Exit(1)
    say(f"{out}: wrote {len(result.changes)} pages ({result.pages} in all)")
