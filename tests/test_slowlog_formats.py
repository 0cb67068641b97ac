"""The readers' fast paths against the general ones: a real server logs, as stderr, csvlog and
jsonlog at once, statements whose text, role, database, application name and parameters hold
what a quick cut could get wrong (commas, doubled quotes in csvlog, escapes in jsonlog, a
multi-line statement, parse/bind durations, log_statement + log_duration pairs). The three
reports must be identical and carry those values intact."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slowlog_servers import three_formats_cluster

from dbadmin.slowlog import parallel
from dbadmin.slowlog.accumulate import MAX_ERROR_KINDS
from dbadmin.slowlog.logparse import parse_logs
from dbadmin.slowlog.readers import FileState

APP = 'app, "quoted"'
ROLE = "we,ird"
DATABASE = 'd"b'
PARAMETER = 'a"b\\c, d'  # a quote, a backslash and a comma, sent as $1 (extended protocol)
# (the fingerprint ignores aliases: each statement calls its own function)
TRICKY = [
    "SELECT upper('a,b') AS \"x\"\"y\", E'back\\\\slash' AS d",
    "SELECT upper('c,d') AS \"x\"\"y\", E'back\\\\slash' AS d",
    "SELECT lower('a, \"b\"')\n  AS two_lines,\n  1 AS c",
]


@pytest.fixture(scope="module")
def tricky_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import psycopg2

    root = tmp_path_factory.mktemp("slowlog-formats")
    cluster, sock = three_formats_cluster(root, "%m [%p] %q%u@%d/%a ")
    cluster.ensure_running()
    kwargs = cluster.url().connect_kwargs()
    try:
        admin = psycopg2.connect(**kwargs, application_name=APP)
        admin.autocommit = True
        with admin.cursor() as cur:
            for sql in TRICKY:
                cur.execute(sql)
            cur.execute(f'CREATE ROLE "{ROLE}" LOGIN')
            cur.execute('CREATE DATABASE "d""b"')
            cur.execute("ALTER DATABASE \"d\"\"b\" SET log_min_duration_statement = -1; "
                        "ALTER DATABASE \"d\"\"b\" SET log_statement = 'all'; "
                        "ALTER DATABASE \"d\"\"b\" SET log_duration = on")  # fmt: skip
            with pytest.raises(psycopg2.errors.UndefinedTable):
                cur.execute('SELECT * FROM "no""table"')
        admin.close()
        # a role with a comma in a database with a quote: statement + bare duration lines
        odd = psycopg2.connect(**{**kwargs, "user": ROLE, "dbname": DATABASE})
        odd.autocommit = True
        with odd.cursor() as cur:
            for i in range(3):
                cur.execute(f"SELECT abs({i}) AS odd_session")
        odd.close()
        script = root / "param.sql"
        script.write_text("SELECT length(:txt::text) AS param;\n")
        subprocess.run(
            [str(cluster.bin_dir / "pgbench"), "-n", "-M", "extended", "-t", "3",
             "-D", f"txt={PARAMETER}", "-f", str(script), "-h", str(sock),
             "-p", str(cluster.port), "-U", "postgres", "postgres"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    finally:
        cluster.stop()
    yield root / "pgdata" / "collected" / "pg.log"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)


def test_tricky_values_give_one_report_in_every_format(tricky_logs: Path) -> None:
    docs = [
        parse_logs([path]).as_dict()
        for path in (tricky_logs, tricky_logs.with_suffix(".csv"), tricky_logs.with_suffix(".json"))
    ]
    for doc in docs:
        for volatile in ("files", "formats", "prefixes", "lines", "bytes_read"):
            doc.pop(volatile)
        # stderr appends " at character N" to the message (csvlog and jsonlog: a field of its own)
        (error,) = doc.pop("error_groups")  # type: ignore[misc]
        assert error["statement"] == 'SELECT * FROM "no""table"'
    assert docs[0] == docs[1] == docs[2]
    doc = docs[0]
    groups = {g["example"]: g for g in doc["groups"]}  # type: ignore[attr-defined]
    quoted = next(g for q, g in groups.items() if "upper" in q)
    assert quoted["count"] == 2
    assert quoted["applications"] == {APP: 2}
    assert quoted["example"] in TRICKY[:2]
    two_lines = next(g for q, g in groups.items() if "two_lines" in q)
    assert two_lines["example"] == TRICKY[2]
    odd = next(g for q, g in groups.items() if "odd_session" in q)
    assert odd["count"] == 3
    assert odd["users"] == {ROLE: 3} and odd["databases"] == {DATABASE: 3}
    param = next(g for q, g in groups.items() if "AS param" in q)
    assert param["count"] == 3
    assert param["example_parameters"] == f"$1 = '{PARAMETER}'"
    assert doc["errors"] == 1


@pytest.mark.parametrize("suffix", [".log", ".csv", ".json"])
def test_tricky_values_split_across_processes_give_the_same_report(
    tricky_logs: Path, suffix: str
) -> None:
    """--jobs: every format split into byte ranges (one worker per range, boundaries at entry
    starts: a multi-line statement, quoted commas and escapes near them) merges to the report of
    one process."""
    path = tricky_logs.with_suffix(suffix)
    serial = parse_logs([path], jobs=1).as_dict()
    for jobs in (2, 5):
        assert parse_logs([path], jobs=jobs, split_bytes=1).as_dict() == serial


def test_a_csvlog_split_inside_a_quoted_field_is_read_in_one_process(tmp_path: Path) -> None:
    """A multi-line statement that quotes a csvlog row: its inner line looks like the start of a
    row, and the range boundary lands there. The worker before it ends inside the quoted field,
    so the file is read in one process, and the report is the one-process report."""
    from dbadmin.slowlog.parallel import _boundaries, _looks_like_a_row

    def row(ms: str, sql: str) -> str:
        return (
            '2026-01-01 10:00:00.000 UTC,"app","app",42,"[local]",6b150ecd.2a,1,"SELECT",'
            f'2026-01-01 10:00:00 UTC,3/1,0,LOG,00000,"duration: {ms} ms  statement: {sql}",'
            ',,,,,,,,"psql","client backend",,0\n'
        )

    inner = '2026-01-01 10:00:00.000 UTC,"x","y",1,"[local]",a.b,1,"",,1/1,0,LOG,00000,"not a row"'
    quoted = inner.replace('"', '""')
    padding = "\n".join(f"  -- line {i} of a long comment" for i in range(400))
    sql = f"SELECT '{padding}\n{quoted}\n' AS quoted_log_line"
    log = tmp_path / "postgresql.csv"
    log.write_text(row("1.000", "SELECT 1") + row("2.000", sql) + row("3.000", "SELECT 3"))
    size = log.stat().st_size
    cuts = _boundaries(log, size, 2, _looks_like_a_row)
    assert len(cuts) == 3 and log.read_bytes()[cuts[1] :].startswith(quoted.encode())  # inside
    serial = parse_logs([log], jobs=1).as_dict()
    assert serial["total_queries"] == 3
    assert parse_logs([log], jobs=2, split_bytes=1).as_dict() == serial


def test_a_damaged_csvlog_row_is_an_unparsed_line_not_a_crash(tmp_path: Path) -> None:
    good = (
        '2026-01-01 10:00:00.000 UTC,"app","app",42,"[local]",6b150ecd.2a,1,"SELECT",'
        '2026-01-01 10:00:00 UTC,3/1,0,LOG,00000,"duration: 1.000 ms  statement: SELECT 1",'
        ',,,,,,,,"psql","client backend",,0\n'
    )
    damaged = [
        '2026-01-01 10:00:01.000 UTC,a"b,c\n',  # one quote: the row goes on to the next line,
        'd"e\n',  # which closes it with a newline outside any quoted field (a csv.Error)
        '2026-01-01 10:00:02.000 UTC,a,b,1,"",c.d,1,"",,1/1,0,ERROR,00000,"cut after 14 fields"\n',
    ]
    log = tmp_path / "postgresql.csv"
    log.write_text(good + "".join(damaged) + good)
    report = parse_logs([log], jobs=1)
    assert report.total_queries == 2
    assert report.unparsed_lines == 1  # the joined pair; the 14-field row is an error entry
    assert report.errors == 1


@pytest.fixture(scope="module")
def explained_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """auto_explain on every statement: the simple protocol logs each plan before its
    statement's duration line, the extended protocol after its execute line, and a
    log_statement + log_duration database puts the plan between the two lines; an SQL_ASCII
    database logs statements that are not UTF-8."""
    import psycopg2

    root = tmp_path_factory.mktemp("slowlog-explained")
    conf = {"session_preload_libraries": "'auto_explain'", "auto_explain.log_min_duration": "0"}
    cluster, sock = three_formats_cluster(root, "%m [%p] %q%u@%d/%a ", conf)
    cluster.ensure_running()
    kwargs = cluster.url().connect_kwargs()
    try:
        admin = psycopg2.connect(**kwargs)
        admin.autocommit = True
        with admin.cursor() as cur:
            for i in range(40):
                cur.execute(f"SELECT abs({i}) AS simple")
            cur.execute("CREATE DATABASE pairs")
            cur.execute("CREATE DATABASE latin ENCODING 'SQL_ASCII' LOCALE 'C' TEMPLATE template0")
            cur.execute("ALTER DATABASE pairs SET log_min_duration_statement = -1; "
                        "ALTER DATABASE pairs SET log_statement = 'all'; "
                        "ALTER DATABASE pairs SET log_duration = on")  # fmt: skip
        admin.close()
        paired = psycopg2.connect(**{**kwargs, "dbname": "pairs"})
        paired.autocommit = True
        with paired.cursor() as cur:
            for i in range(20):
                cur.execute(f"SELECT sign({i}) AS paired")
        paired.close()
        latin = psycopg2.connect(**{**kwargs, "dbname": "latin"})
        latin.autocommit = True
        latin.set_client_encoding("SQL_ASCII")
        with latin.cursor() as cur:
            for i in range(5):  # Latin-1 bytes: not UTF-8, logged as they came
                cur.execute(b"SELECT '\xe9t\xe9 " + str(i).encode() + b"'\n  AS latin1")
        latin.close()
        script = root / "extended.sql"
        script.write_text("SELECT length(:txt::text) AS extended;\n")
        subprocess.run(
            [str(cluster.bin_dir / "pgbench"), "-n", "-M", "extended", "-t", "40",
             "-D", "txt=x", "-f", str(script), "-h", str(sock),
             "-p", str(cluster.port), "-U", "postgres", "postgres"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        # more distinct errors than one report keeps (MAX_ERROR_KINDS), no plans among them
        failing = psycopg2.connect(**kwargs, options="-c auto_explain.log_min_duration=-1")
        failing.autocommit = True
        with failing.cursor() as cur:
            for i in range(MAX_ERROR_KINDS + 100):
                with pytest.raises(psycopg2.errors.UndefinedTable):
                    cur.execute(f"SELECT * FROM missing_{i}")
        failing.close()
    finally:
        cluster.stop()
    yield root / "pgdata" / "collected" / "pg.log"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)


@pytest.mark.parametrize("suffix", [".log", ".csv", ".json"])
def test_auto_explain_plans_cut_by_a_range_boundary_are_not_counted_twice(
    explained_logs: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A boundary between a plan and the statement that decides whether it is a query of its
    own (its duration line, or the execute line before it) once counted the plan as one more
    query. Boundaries now avoid the line after a plan, a plan still waiting across one (or
    one whose statement is in the range before) sends the file to one process, and every split
    gives the serial report. Ranges of errors only are merged under one process's cap on
    distinct error messages."""
    path = explained_logs.with_suffix(suffix)
    serial = parse_logs([path], jobs=1).as_dict()
    counts = {g["example"].split(" AS ")[-1]: g["count"] for g in serial["groups"]}  # type: ignore[attr-defined]
    assert counts["simple"] == 40 and counts["paired"] == 20 and counts["extended;"] == 40
    assert len(serial["error_groups"]) == MAX_ERROR_KINDS + 1  # type: ignore[arg-type]
    split = []
    real_parse_parallel = parallel.parse_parallel

    def counted(*args: Any) -> FileState | None:
        state = real_parse_parallel(*args)
        split.append(state is not None)
        return state

    monkeypatch.setattr(parallel, "parse_parallel", counted)
    for jobs in range(2, 9):
        assert parse_logs([path], jobs=jobs, split_bytes=1).as_dict() == serial, jobs
    assert any(split)  # not every run fell back to one process


def test_statements_that_are_not_utf8_read_alike_in_every_format(explained_logs: Path) -> None:
    """An SQL_ASCII database logs Latin-1 bytes as they came. jsonlog escapes the statement's
    newline (the escaped path once raised UnicodeDecodeError: a traceback), and csvlog's plan
    rows once had U+FFFD where the duration row had the bytes (each plan counted as a query)."""
    docs = [
        parse_logs([explained_logs.with_suffix(suffix)], jobs=1).as_dict()
        for suffix in (".log", ".csv", ".json")
    ]
    for doc in docs:
        for volatile in ("files", "formats", "prefixes", "lines", "bytes_read", "error_groups"):
            doc.pop(volatile)  # stderr's error messages end in " at character N"
    assert docs[0] == docs[1] == docs[2]
    (latin,) = [g for g in docs[0]["groups"] if "latin1" in g["example"]]  # type: ignore[attr-defined]
    assert latin["count"] == 5
    assert latin["example"].startswith("SELECT '\ufffdt\ufffd ")


@pytest.mark.parametrize("suffix", [".log", ".csv", ".json"])
def test_a_statement_line_and_its_duration_in_two_rotated_files_pair_with_jobs(
    tricky_logs: Path, suffix: str, tmp_path: Path
) -> None:
    """Log rotation between a log_statement line and its log_duration line: one process pairs
    them across the files; --jobs once left the duration without a statement."""
    lines = tricky_logs.with_suffix(suffix).read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b"statement: SELECT abs(1)" in line) + 1
    assert b"duration: " not in lines[cut - 1] and b"duration: " in lines[cut]
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    first.write_bytes(b"".join(lines[:cut]))
    second.write_bytes(b"".join(lines[cut:]))
    serial = parse_logs([first, second], jobs=1).as_dict()
    assert serial["durations_without_statement"] == 0
    assert parse_logs([first, second], jobs=3, split_bytes=1).as_dict() == serial
