"""Every table of human output fits the terminal (issue 18): at COLUMNS=80, 120 and 200 no line
is longer than the width, no header is split across lines, the numbers the --json document
holds appear whole on one line, and backup names are never wrapped or cut. Commands run in
process through the ``cli`` fixture, whose Rich consoles read COLUMNS from the environment."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import psycopg2
from conftest import Cli, CliResult, PgServer
from rich.cells import cell_len

from dbadmin.urls import DbUrl

WIDTHS = (80, 120, 200)


def at(width: int) -> dict[str, str]:
    return {"COLUMNS": str(width)}


def whole(token: str, lines: Iterable[str]) -> bool:
    """``token`` on one line, not part of a longer number (``1,234`` is not in ``11,234.5``)."""
    pattern = re.compile(rf"(?<![\w,.]){re.escape(token)}(?![\w,]|\.\d)")
    return any(pattern.search(line) for line in lines)


def assert_fits(
    res: CliResult,
    width: int,
    *,
    intact: Iterable[str] = (),
    headers: Iterable[str] = (),
    codes: tuple[int, ...] = (0,),
) -> list[str]:
    """The checks every table gets; ``intact`` strings must appear whole on one line and
    ``headers`` on a table's (single) header line."""
    assert res.exit_code in codes, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    too_long = [line for line in lines if cell_len(line) > width]
    assert not too_long, f"{len(too_long)} lines over {width}:\n" + "\n".join(too_long)
    header_lines = [i for i, line in enumerate(lines) if line.startswith("┃")]
    assert header_lines, res.stdout
    for i in header_lines:  # a header row is one line, then the rule under it
        assert lines[i + 1].startswith("┡"), f"header split across lines:\n{res.stdout}"
    heads = [lines[i] for i in header_lines]
    for header in headers:
        assert any(f" {header} " in line for line in heads), f"{header!r} not in {heads}"
    for token in intact:
        assert whole(token, lines), f"{token!r} broken or missing at {width}:\n{res.stdout}"
    return lines


# --- slow-queries -------------------------------------------------------------------------------
LONG_QUERY = (
    "SELECT g AS a_rather_long_column_alias, g * 2 AS another_long_alias, "
    "md5(g::text) AS digest_of_the_value FROM generate_series(1, 3) AS g WHERE g > 0"
)


def test_slow_queries_top(cli: Cli, fresh_db: DbUrl) -> None:
    conn = psycopg2.connect(**fresh_db.connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("SELECT pg_stat_statements_reset()")
        for _ in range(1234):
            cur.execute(LONG_QUERY)
    conn.close()
    url = fresh_db.render()
    doc = cli("slow-queries", "top", "-d", url, "--json").json()
    ours = next(g for g in doc["groups"] if "a_rather_long_column_alias" in g["query"])
    assert ours["calls"] == 1234
    intact = ["1,234", f"{ours['rows']:,}"]
    # --json rounds total_ms to 3 decimals, the table the raw value to 1: 2.5504 is "2.6" in the
    # table and 2.55 ("2.5") in the document; either rounding of the document's value is whole
    totals = {f"{ours['total_ms'] + d:,.1f}" for d in (-0.0005, 0.0005)}
    headers = ("#", "calls", "total ms", "query")
    for width in WIDTHS:
        res = cli("slow-queries", "top", "-d", url, env=at(width))
        lines = assert_fits(res, width, intact=intact[:1], headers=headers)
        assert any(whole(total, lines) for total in totals), f"{totals} at {width}:\n{res.stdout}"
        if width == 80:  # low-priority columns dropped, the statement cut with …, and said so
            assert "temp blks" not in res.stdout and any("…" in line for line in lines)
            assert "--wide shows all" in res.stdout
        if width == 200:
            assert whole(intact[1], lines) and "temp blks" in res.stdout
    wide = cli("slow-queries", "top", "-d", url, "--wide", env=at(80))
    assert wide.exit_code == 0 and "temp blks" in wide.stdout
    statement = " ".join(ours["query"].split())  # as normalized by pg_stat_statements
    assert any(statement in line for line in wide.stdout.splitlines())  # whole, on one line


def _write_log(path: Path) -> None:
    """A small stderr log (log_line_prefix '%m [%p] '): 1,500 runs of one long statement, a
    few of another, and an error."""
    lines = []
    for i in range(1500):
        lines.append(
            f"2026-01-01 10:00:{i % 60:02d}.{i % 1000:03d} UTC [42] LOG:  duration: 1.500 ms  "
            f"statement: {LONG_QUERY.replace('> 0', f'> {i}')}"
        )
    for i in range(3):
        lines.append(
            f"2026-01-01 10:01:0{i}.000 UTC [43] LOG:  duration: 2500.250 ms  "
            "statement: UPDATE accounts SET balance = balance - 1 WHERE id = 7"
        )
    lines.append(
        '2026-01-01 10:02:00.000 UTC [44] ERROR:  relation "no_such_table_with_a_long_name" '
        "does not exist at character 15"
    )
    lines.append(
        "2026-01-01 10:02:00.000 UTC [44] STATEMENT:  SELECT * FROM no_such_table_with_a_long_name"
    )
    path.write_text("\n".join(lines) + "\n")


def test_slow_queries_log(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    _write_log(log)
    args = ("slow-queries", "log", str(log), "--prefix", "%m [%p] ")
    doc = cli(*args, "--json").json()
    counts = sorted(g["count"] for g in doc["groups"])
    assert counts == [3, 1500], counts
    intact = ["1,500", "2,250.0", "7,500.8"]  # count, total ms of each statement
    for width in WIDTHS:
        res = cli(*args, env=at(width))
        assert_fits(res, width, intact=intact, headers=("#", "count", "total ms", "query"))
    res = cli(*args, "--wide", env=at(80))
    assert (
        "p50 ms" in res.stdout
        and "UPDATE accounts SET balance = balance - $1 WHERE id = $2" in res.stdout
    )


# --- backup list --------------------------------------------------------------------------------
def test_backup_list(cli: Cli, fresh_db: DbUrl, tmp_path: Path) -> None:
    backups = tmp_path / "bk"
    url = fresh_db.render()
    names = ["nightly-shop-production-database-full", None]
    made = []
    for name in names:
        extra = ("--name", name) if name else ()
        res = cli("backup", "-d", url, "--dir", str(backups), *extra, "--json")
        assert res.exit_code == 0, res.stderr
        made.append(res.json()["name"])  # type: ignore[index]
    listed = cli("backup", "list", "--dir", str(backups), "--json").json()
    assert sorted(b["name"] for b in listed["backups"]) == sorted(made)  # type: ignore[index]
    for width in WIDTHS:
        res = cli("backup", "list", "--dir", str(backups), env=at(width))
        assert_fits(res, width, intact=made, headers=("name", "size", "verified"))
        res = cli("backup", "verify", made[0], "--dir", str(backups), env=at(width))
        assert_fits(res, width, intact=[made[0]], headers=("check", "status", "detail"))
        res = cli("backup", "-d", url, "--dir", str(backups), "--name", f"w{width}", env=at(width))
        assert_fits(res, width, intact=[f"w{width}", "tables / rows"])
    wide = cli("backup", "list", "--dir", str(backups), "--wide", env=at(80))
    assert all(h in wide.stdout for h in ("finished", "format", "revision"))


# --- health, audit, doctor ----------------------------------------------------------------------
def test_health_checks_and_pool(cli: Cli, app_db: DbUrl) -> None:
    url = app_db.render()
    doc = cli("health", "-d", url, "--json").json()
    names = list(doc["checks"])  # type: ignore[index]
    for width in WIDTHS:
        res = cli("health", "-d", url, env=at(width))
        headers = ("check", "status", "value", "summary")
        assert_fits(res, width, intact=names, headers=headers, codes=(doc["exit_code"],))
    pool = ("health", "pool", "-d", url, "--duration", "1s", "-k", "2")
    for width in WIDTHS:
        res = cli(*pool, env=at(width))
        lines = assert_fits(res, width, intact=["checkout wait", "headroom"], codes=(0, 1, 2))
        assert not any("pool_recycle -1" in line or "None" in line for line in lines)


def test_audit_and_doctor(cli: Cli, app_db: DbUrl) -> None:
    url = app_db.render()
    doc = cli("audit", "-d", url, "--json").json()
    names = list(doc["checks"])  # type: ignore[index]
    doctor = cli("doctor", "-d", url, "--json").json()
    checks = [c["name"] for c in doctor["checks"]]  # type: ignore[index]
    for width in WIDTHS:
        res = cli("audit", "-d", url, env=at(width))
        headers = ("check", "status", "findings", "summary")
        assert_fits(res, width, intact=names, headers=headers, codes=(doc["exit_code"],))
        res = cli("doctor", "-d", url, env=at(width))
        headers = ("check", "status", "value", "advice")
        assert_fits(res, width, intact=checks, headers=headers, codes=(0, 1))


# --- explain ------------------------------------------------------------------------------------
def test_explain_findings_catalog_and_all(cli: Cli, app_db: DbUrl, pg_server: PgServer) -> None:
    url = app_db.render()
    pg_server.execute(
        "CREATE TABLE wide_events AS SELECT g AS id, md5(g::text) AS payload "
        "FROM generate_series(1, 20000) g; ANALYZE wide_events",
        database=app_db.database,
    )
    sql = "SELECT * FROM wide_events WHERE payload LIKE '%abc%' ORDER BY payload"
    doc = cli("explain", "-d", url, sql, "--json").json()
    assert doc["findings"], doc  # type: ignore[index]
    base = Path.cwd() / "base.json"
    assert cli("explain", "-d", url, sql, "--save", str(base)).exit_code == 0
    listed = [q["name"] for q in cli("explain", "--list", "--json").json()["queries"]]  # type: ignore[index]
    results = cli("explain", "-d", url, "--all", "--json").json()["queries"]  # type: ignore[index]
    for width in WIDTHS:
        res = cli("explain", "-d", url, sql, env=at(width))
        assert_fits(res, width, headers=("severity", "node", "finding", "action"))
        res = cli("explain", "-d", url, "--compare", str(base), env=at(width))
        assert_fits(res, width, headers=("what", "baseline", "now", "change"), codes=(0, 1))
        res = cli("explain", "--list", env=at(width))
        assert_fits(res, width, intact=listed, headers=("name", "parameters"))
        res = cli("explain", "-d", url, "--all", env=at(width))
        names = [r["name"] for r in results]
        assert_fits(res, width, intact=names, headers=("query", "execution"), codes=(0, 1))
    res = cli("explain", "-d", url, "--all", "--wide", env=at(80))
    assert res.exit_code in (0, 1) and all(h in res.stdout for h in ("planning", "findings"))


# --- migrate, schema, seed ----------------------------------------------------------------------
SEED = ("--profile", "dev", "--scale", "0.01", "--now", "2026-01-31", "--seed", "7")


def test_migrate_schema_and_seed(cli: Cli, app_db: DbUrl) -> None:
    url = app_db.render()
    seeded = cli("seed", "-d", url, *SEED, "--json")
    assert seeded.exit_code == 0, seeded.stderr
    counts = [f"{t['rows']:,}" for t in seeded.json()["tables"]]  # type: ignore[index]
    revisions = [r["revision"] for r in cli("migrate", "history", "--json").json()]  # type: ignore[union-attr]
    shown = cli("schema", "show", "-d", url, "--json").json()["tables"]  # type: ignore[index]
    for width in WIDTHS:  # the same seed again: the same rows, printed whole
        res = cli("seed", "-d", url, *SEED, "--reset", "--yes", env=at(width))
        assert_fits(res, width, intact=counts, headers=("table", "status", "rows", "seconds"))
        res = cli("migrate", "history", env=at(width))
        assert_fits(res, width, intact=revisions, headers=("revision", "revises", "message"))
        res = cli("schema", "show", "-d", url, env=at(width))
        assert_fits(res, width, headers=("table", "rows", "total", "fks"))
        res = cli("schema", "show", "-d", url, shown[0]["name"], env=at(width))
        assert_fits(res, width, headers=("column", "type", "null", "default"))
        for text_only in (("migrate", "status"), ("schema", "diff")):  # lines, not tables
            res = cli(*text_only, "-d", url, env=at(width))
            assert res.exit_code == 0 and res.stdout, res.stderr
            assert all(cell_len(line) <= width for line in res.stdout.splitlines()), res.stdout
