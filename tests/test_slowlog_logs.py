"""`dbadmin slow-queries log`: logs written by a real server (stderr, csvlog and jsonlog at once).

One module-scoped server (embedded PostgreSQL 18, or 15 in the pg15 lane; logging_collector into its data directory,
log_min_duration_statement=0, auto_explain) runs a known workload once and is stopped, so the
three log files are complete and fixed for every test here.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Cli
from slowlog_servers import three_formats_cluster

from dbadmin.errors import ExitCode, ProblemFound
from dbadmin.slowlog.infer import infer_prefix
from dbadmin.slowlog.logparse import parse_logs
from dbadmin.slowlog.prefix import prefix_to_regex

PREFIX = "%m [%p] %q%u@%d/%a "


@dataclass
class ServerLogs:
    stderr: Path
    csv: Path
    json: Path
    statements: int  # statements the workload ran that log a duration
    lookups: int  # executions of the lookup statement (simple + extended protocol)
    errors: int


def _run(cur, sql: str, counter: list[int]) -> None:  # type: ignore[no-untyped-def]
    cur.execute(sql)
    counter[0] += 1


@pytest.fixture(scope="module")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerLogs]:
    import psycopg2

    root = tmp_path_factory.mktemp("slowlog-server")
    cluster, sock = three_formats_cluster(
        root,
        PREFIX,
        {"session_preload_libraries": "'auto_explain'", "auto_explain.log_min_duration": "0"},
    )
    cluster.ensure_running()
    counter = [0]
    lookups = 0
    errors = 0
    try:
        conn = psycopg2.connect(**cluster.url().connect_kwargs(), application_name="slowtest")
        conn.autocommit = True
        cur = conn.cursor()
        _run(cur, "CREATE TABLE items (id int PRIMARY KEY, name text)", counter)
        _run(cur, "INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 100) g", counter)
        for i in range(1, 6):
            _run(cur, f"SELECT name FROM items WHERE id = {i}", counter)
            lookups += 1
        # multi-line statements whose IN-lists differ in length: one fingerprint
        _run(cur, "SELECT id,\n       name\nFROM items\nWHERE id IN (1, 2, 3)", counter)
        _run(cur, "SELECT id,\n       name\nFROM items\nWHERE id IN (4, 5)", counter)
        try:
            cur.execute("SELECT * FROM missing_table")
        except psycopg2.errors.UndefinedTable:
            errors += 1
        _run(cur, "UPDATE items SET name = 'it''s' WHERE id = 7", counter)
        conn.close()
        # log_statement + log_duration style (bare "duration:" lines) in another database
        admin = psycopg2.connect(**cluster.url().connect_kwargs())
        admin.autocommit = True
        with admin.cursor() as acur:
            acur.execute("CREATE DATABASE other")
            counter[0] += 1
            acur.execute(
                "ALTER DATABASE other SET log_min_duration_statement = -1; "
                "ALTER DATABASE other SET log_statement = 'all'; "
                "ALTER DATABASE other SET log_duration = on"
            )  # one query string: logged as one statement
            counter[0] += 1
        admin.close()
        other = psycopg2.connect(**cluster.url("other").connect_kwargs())
        other.autocommit = True
        with other.cursor() as ocur:
            for i in range(3):
                _run(ocur, f"SELECT {i} AS bare_duration", counter)
        other.close()
        # the extended protocol: "execute <unnamed>: ..." + "DETAIL:  Parameters: $1 = '..'"
        script = root / "lookup.sql"
        script.write_text("\\set id random(1, 100)\nSELECT name FROM items WHERE id = :id;\n")
        subprocess.run(
            [str(cluster.bin_dir / "pgbench"), "-n", "-M", "extended", "-t", "4", "-f",
             str(script), "-h", str(sock), "-p", str(cluster.port), "-U", "postgres",
             "postgres"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        counter[0] += 4
        lookups += 4
    finally:
        cluster.stop()
    logs = root / "pgdata" / "collected"
    yield ServerLogs(
        stderr=logs / "pg.log",
        csv=logs / "pg.csv",
        json=logs / "pg.json",
        statements=counter[0],
        lookups=lookups,
        errors=errors,
    )
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)


def _lookup_group(doc: dict) -> dict:  # type: ignore[type-arg]
    return next(g for g in doc["groups"] if g["query"].startswith("SELECT name FROM items"))


@pytest.mark.parametrize("kind", ["stderr", "csv", "json"])
def test_server_log_parses_to_the_exact_statement_count(
    cli: Cli, server_logs: ServerLogs, kind: str
) -> None:
    path = getattr(server_logs, kind)
    res = cli("slow-queries", "log", str(path), "--json", "--top", "50")
    assert res.exit_code == 0, res.stderr
    doc = res.json()
    assert doc["total_queries"] == server_logs.statements, "\n".join(
        f"{g['count']} {g['query']}" for g in doc["groups"]
    )
    assert doc["errors"] == server_logs.errors
    assert doc["formats"] == [{"stderr": "stderr", "csv": "csvlog", "json": "jsonlog"}[kind]]
    assert sum(g["count"] for g in doc["groups"]) == doc["total_queries"]
    lookup = _lookup_group(doc)
    assert lookup["count"] == server_logs.lookups  # literals and $1 parameters: one fingerprint
    for key in ("fingerprint", "query", "count", "total_ms", "mean_ms", "p50_ms", "p95_ms",
                "max_ms", "first_seen", "last_seen", "example"):  # fmt: skip
        assert key in lookup
    assert lookup["p50_ms"] <= lookup["p95_ms"] <= lookup["max_ms"]
    assert lookup["first_seen"] <= lookup["last_seen"]
    assert lookup["users"] == {"postgres": server_logs.lookups}
    assert lookup["databases"] == {"postgres": server_logs.lookups}
    assert lookup["applications"]["slowtest"] == 5
    in_list = [g for g in doc["groups"] if "IN (" in g["query"]]
    assert len(in_list) == 1 and in_list[0]["count"] == 2
    assert "\n" in in_list[0]["example"]  # the multi-line statement kept whole
    bare = [g for g in doc["groups"] if "bare_duration" in g["query"]]
    assert len(bare) == 1 and bare[0]["count"] == 3
    assert doc["error_groups"][0]["statement"] == "SELECT * FROM missing_table"


def test_extended_protocol_example_keeps_its_parameters(server_logs: ServerLogs) -> None:
    report = parse_logs([server_logs.stderr])
    lookup = next(g for g in report.groups if g.query.startswith("SELECT name FROM items"))
    executes = [
        line
        for line in server_logs.stderr.read_text().splitlines()
        if "execute <unnamed>: SELECT name FROM items" in line
    ]
    assert len(executes) == 4
    # the slowest example may be a simple-protocol one (no parameters); when it is an execute,
    # its DETAIL parameters are attached
    if "$1" in lookup.example:
        assert lookup.example_parameters and lookup.example_parameters.startswith("$1 = '")


def test_auto_explain_plans_are_not_counted_twice(server_logs: ServerLogs) -> None:
    text = server_logs.stderr.read_text()
    assert "plan:" in text  # auto_explain really logged plans
    assert parse_logs([server_logs.stderr]).total_queries == server_logs.statements


def test_gzip_gives_the_same_result(server_logs: ServerLogs, tmp_path: Path, cli: Cli) -> None:
    for path in (server_logs.stderr, server_logs.csv, server_logs.json):
        packed = tmp_path / (path.name + ".gz")
        packed.write_bytes(gzip.compress(path.read_bytes()))
        plain = cli("slow-queries", "log", str(path), "--json").json()
        zipped = cli("slow-queries", "log", str(packed), "--json").json()
        for doc in (plain, zipped):
            doc.pop("files")  # type: ignore[union-attr]
        assert zipped == plain


def test_stdin_dash_reads_standard_input(server_logs: ServerLogs, cli: Cli) -> None:
    res = cli("slow-queries", "log", "-", "--json", input=server_logs.stderr.read_text())
    assert res.exit_code == 0, res.stderr
    assert res.json()["total_queries"] == server_logs.statements  # type: ignore[index]


def test_mismatched_prefix_exits_1_with_the_first_unparsed_line(
    server_logs: ServerLogs, cli: Cli
) -> None:
    res = cli("slow-queries", "log", str(server_logs.stderr), "--prefix", "%t [%p]: [%l-1] ")
    assert res.exit_code == ExitCode.PROBLEM
    assert "0 queries" in res.stderr
    assert "'%t [%p]: [%l-1] '" in res.stderr  # the prefix it expected
    first_line = server_logs.stderr.read_text().splitlines()[0]
    assert " ".join(first_line.split())[:60] in res.stderr  # the first line that did not match
    assert res.stdout == ""


@pytest.mark.parametrize("fmt", ["csvlog", "jsonlog"])
def test_csvlog_and_jsonlog_problems_name_their_format_not_a_prefix(
    server_logs: ServerLogs, tmp_path: Path, cli: Cli, fmt: str
) -> None:
    """A csvlog or jsonlog file with lines that are not entries: the warning and the error name
    the format (there is no log_line_prefix to pass)."""
    real = server_logs.csv if fmt == "csvlog" else server_logs.json
    damaged = tmp_path / real.name
    damaged.write_bytes(real.read_bytes() + b"not an entry at all\n")
    res = cli("slow-queries", "log", str(damaged), "--format", fmt, "--json")
    assert res.exit_code == 0, res.stderr
    assert "warning: 1 of " in res.stderr and f"lines were not {fmt} entries" in res.stderr
    assert "log_line_prefix" not in res.stderr
    garbage = tmp_path / f"garbage.{fmt}"
    garbage.write_text("not an entry at all\nnor is this\n")
    res = cli("slow-queries", "log", str(garbage), "--format", fmt)
    assert res.exit_code == ExitCode.PROBLEM
    assert f"2 of 2 lines are not {fmt} entries" in res.stderr and "not an entry" in res.stderr
    assert "log_line_prefix" not in res.stderr and "--format" in res.stderr


def test_log_without_durations_exits_1_and_says_why(tmp_path: Path, cli: Cli) -> None:
    log = tmp_path / "nodur.log"
    log.write_text(
        "2026-01-01 10:00:00.000 UTC [11] LOG:  database system is ready to accept connections\n"
        "2026-01-01 10:00:01.000 UTC [12] LOG:  checkpoint starting: time\n"
    )
    res = cli("slow-queries", "log", str(log))
    assert res.exit_code == ExitCode.PROBLEM
    assert "none has a statement duration" in res.stderr
    assert "log_min_duration_statement" in res.stderr


def test_empty_file_exits_0_with_no_queries(tmp_path: Path, cli: Cli) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    res = cli("slow-queries", "log", str(empty))
    assert res.exit_code == 0, res.stderr
    assert "no queries" in res.stdout
    res = cli("slow-queries", "log", str(empty), "--json")
    assert res.exit_code == 0 and res.json()["total_queries"] == 0  # type: ignore[index]


def test_missing_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    res = cli("slow-queries", "log", str(tmp_path / "nope.log"))
    assert res.exit_code == ExitCode.USAGE
    assert "not found" in res.stderr


def test_html_report_has_a_chart_and_the_table(
    server_logs: ServerLogs, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    res = cli("slow-queries", "log", str(server_logs.stderr), "--html", str(out))
    assert res.exit_code == 0, res.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<rect" in page
    assert "SELECT name FROM items WHERE id = $1" in page
    assert "<script" not in page  # single file, nothing fetched


def test_prefix_inference_on_common_prefixes() -> None:
    cases = {
        "%m [%p] ": "2026-01-01 10:00:00.123 UTC [42] LOG:  duration: 1.0 ms  statement: x",
        "%t [%p]: user=%u,db=%d,app=%a,client=%h ": (
            "2026-01-01 10:00:00 UTC [42]: user=bob,db=shop,app=psql,client=10.0.0.1 "
            "LOG:  duration: 1.0 ms  statement: x"
        ),
        "%m [%p] %q%u@%d ": "2026-01-01 10:00:00.123 CET [42] bob@shop LOG:  duration: 2 ms  "
        "statement: x",
        "%n [%p] ": "1767261600.123 [42] LOG:  duration: 1.0 ms  statement: x",
    }
    for expected, line in cases.items():
        guess = infer_prefix([line])
        assert guess.prefix is not None, line
        rx = prefix_to_regex(guess.prefix.text)
        assert prefix_to_regex(expected).fields == rx.fields, (expected, guess.prefix.text)


def test_prefix_inference_generic_and_q_for_background_lines() -> None:
    lines = [
        "2026-01-01 10:00:00.123 UTC [7] LOG:  checkpoint starting: time",
        "2026-01-01 10:00:00.200 UTC [42] [app=web] usr=bob dbname=shop LOG:  duration: 3.5 ms  "
        "statement: SELECT 1",
    ]
    guess = infer_prefix(lines)
    assert guess.prefix is not None
    assert {"ts", "pid", "user", "db"} <= set(guess.prefix.fields)
    report_rx = guess.prefix.compile_line()
    for line in lines:
        assert report_rx.match(line.encode()), (guess.prefix.text, line)


def test_epoch_prefix_and_bare_duration_pairing(tmp_path: Path) -> None:
    log = tmp_path / "epoch.log"
    log.write_text(
        "1767261600.100 [42] LOG:  statement: SELECT * FROM t WHERE a = 1\n"
        "1767261600.200 [43] LOG:  statement: SELECT * FROM t WHERE a = 2\n"
        "1767261600.300 [42] LOG:  duration: 5.000 ms\n"
        "1767261600.400 [43] LOG:  duration: 7.000 ms\n"
    )
    report = parse_logs([log])
    assert report.total_queries == 2 and len(report.groups) == 1
    group = report.groups[0]
    assert group.total_ms == pytest.approx(12.0)
    assert group.first_seen is not None and group.first_seen.startswith("2026-01-01 10:00:00.3")


def test_percentiles_switch_to_a_bounded_histogram(tmp_path: Path) -> None:
    log = tmp_path / "many.log"
    with log.open("w") as out:
        for i in range(1, 10001):  # 10,000 samples, 1.000 .. 2000.000 ms (folded in batches)
            out.write(
                f"2026-01-01 10:00:00.000 UTC [42] LOG:  duration: {i % 2000 + 1}.000 ms  "
                f"statement: SELECT {i}\n"
            )
    report = parse_logs([log])
    group = report.groups[0]
    assert group.count == 10000
    assert group.p50_ms == pytest.approx(1000, rel=0.02)
    assert group.p95_ms == pytest.approx(1900, rel=0.02)
    assert group.max_ms == 2000
    # --jobs: the workers' histograms (and durations not yet folded in) merge to the same
    split = parse_logs([log], jobs=2, split_bytes=1).groups[0]
    assert (split.count, split.p50_ms, split.p95_ms) == (10000, group.p50_ms, group.p95_ms)


def test_zero_queries_error_from_the_core(tmp_path: Path) -> None:
    log = tmp_path / "garbage.log"
    log.write_text("this is not a postgres log\nnor is this\n")
    with pytest.raises(ProblemFound) as info:
        parse_logs([log])
    assert "this is not a postgres log" in info.value.what


@pytest.mark.parametrize("fmt", ["stderr", "csv", "json"])
def test_parallel_ranges_give_the_same_report(server_logs: ServerLogs, fmt: str) -> None:
    path = getattr(server_logs, fmt)
    serial = parse_logs([path], jobs=1).as_dict()
    split = parse_logs([path], jobs=3, split_bytes=1).as_dict()
    assert split["total_queries"] == serial["total_queries"] == server_logs.statements
    assert split["errors"] == serial["errors"]
    pick = ("fingerprint", "count", "max_ms", "first_seen", "last_seen", "p50_ms", "p95_ms")
    assert [{k: g[k] for k in pick} for g in split["groups"]] == [
        {k: g[k] for k in pick} for g in serial["groups"]
    ]


def test_fingerprint_cache_never_merges_different_statements() -> None:
    from dbadmin.slowlog.fingerprint import FingerprintCache, fingerprint_sql

    cache = FingerprintCache()
    same = [
        b"SELECT * FROM t WHERE a = 1",
        b"SELECT * FROM t WHERE a = 22",
        b"select * from t where a=3",
    ]
    assert len({cache.get(s).id for s in same}) == 1
    params = [
        b"SELECT * FROM t WHERE a = $1 AND b = $2",
        b"SELECT * FROM t WHERE a = $2 AND b = $1",
    ]
    assert (
        cache.get(params[0]).id == cache.get(params[1]).id == fingerprint_sql(params[0].decode()).id
    )
    assert (
        cache.get(b"SELECT * FROM t WHERE a IN (1, 2, 3)").id
        == cache.get(b"SELECT * FROM t WHERE a IN (4)").id
    )
    # digits that are not literals: identifiers, types, parameters, quoted names, comments
    distinct = [
        (b"SELECT * FROM t1 WHERE a = 1", b"SELECT * FROM t2 WHERE a = 1"),
        (b"SELECT a::int4 FROM t", b"SELECT a::int8 FROM t"),
        (b'SELECT * FROM "part 1"', b'SELECT * FROM "part 2"'),
        (b"SELECT 5 FROM t", b"SELECT  FROM t"),
        (b"SELECT foo$1 FROM t", b"SELECT foo$2 FROM t"),
        (b"SELECT $x$it's$x$ FROM t1 WHERE a = 'q'", b"SELECT $x$it's$x$ FROM t2 WHERE a = 'q'"),
    ]
    for left, right in distinct:
        assert cache.get(left).id != cache.get(right).id, (left, right)
        assert cache.get(left).id == fingerprint_sql(left.decode()).id
        assert cache.get(right).id == fingerprint_sql(right.decode()).id


def test_unparsable_statements_fall_back_to_the_normalizer() -> None:
    from dbadmin.slowlog.fingerprint import fingerprint_sql

    a = fingerprint_sql("SELECT * FROM t WHERE a = 1 AND b IN (1, 2) AND")  # truncated
    b = fingerprint_sql("select *   from t where a = 99 and b in (7) and")
    assert not a.parsed and a.id == b.id and len(a.id) == 16
    assert "?" in a.query and "99" not in b.query


def test_end_to_end_subprocess_with_gzip_on_stdin(server_logs: ServerLogs, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    packed = gzip.compress(server_logs.stderr.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "dbadmin", "slow-queries", "log", "-", "--json"],
        input=packed,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["total_queries"] == server_logs.statements


def test_histogram_percentiles_below_one_millisecond(tmp_path: Path) -> None:
    log = tmp_path / "fast.log"
    with log.open("w") as out:
        for i in range(1, 2001):  # 0.001 .. 2.000 ms
            out.write(
                f"2026-01-01 10:00:00.000 UTC [42] LOG:  duration: {i / 1000:.3f} ms  "
                f"statement: SELECT {i}\n"
            )
    group = parse_logs([log]).groups[0]
    assert group.p50_ms == pytest.approx(1.0, rel=0.02)
    assert group.p95_ms == pytest.approx(1.9, rel=0.02)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--top", "0"], "--top"),
        (["--jobs", "-1"], "--jobs"),
        (["--jobs", "100000"], "--jobs 100000 is too many"),
        (["--min-duration", "-5"], "--min-duration"),
        (["--format", "eventlog"], "unknown log format"),
        (["--prefix", "%Z "], "%Z"),
    ],
)
def test_bad_log_options_exit_2_in_one_line(
    server_logs: ServerLogs, cli: Cli, args: list[str], needle: str
) -> None:
    res = cli("slow-queries", "log", str(server_logs.stderr), *args)
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert needle in res.stderr and res.stderr.startswith("dbadmin: error: ")
    assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""


_THREADED_PARSE = """
import json, os, sys, threading, warnings
from dbadmin.slowlog.logparse import parse_logs

stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # a program with another thread
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", DeprecationWarning)
    report = parse_logs([sys.argv[1]], jobs=2, split_bytes=1)
    if sys.argv[2] == "and-fork":  # the control: what forking this process looks like
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
stop.set()
print(json.dumps({"queries": report.total_queries, "warnings": [str(w.message) for w in caught]}))
"""


def test_parallel_parse_from_a_threaded_process_does_not_fork_it(
    server_logs: ServerLogs, tmp_path: Path
) -> None:
    """--jobs 2 from a process running another thread: no "multi-threaded ... fork()" warning.

    Python 3.12+ warns when a multi-threaded process forks (the child can inherit a held lock
    and hang); the control run forks on purpose to show the warning is caught when it happens.
    """
    import json
    import sys

    script = tmp_path / "threaded_parse.py"
    script.write_text(_THREADED_PARSE)
    runs = {}
    for mode in ("parse-only", "and-fork"):
        proc = subprocess.run(
            [sys.executable, "-W", "error::DeprecationWarning", str(script),
             str(server_logs.stderr), mode],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        runs[mode] = json.loads(proc.stdout)
        assert runs[mode]["queries"] == server_logs.statements
    assert runs["parse-only"]["warnings"] == []
    if sys.version_info >= (3, 12):
        assert any("fork()" in w for w in runs["and-fork"]["warnings"]), runs["and-fork"]
