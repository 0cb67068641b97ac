"""N+1 detection on logs written by a real server while real programs ran against the app schema.

One server (embedded PostgreSQL 18, or 15 in the pg15 lane) logs every statement
(log_min_duration_statement = 0) as stderr, csvlog and jsonlog at once, one file set per program:
- ``lazy``: SQLAlchemy with lazy loading lists 50 users, then each user's tasks, one query each
  (pausing now and then, as a client doing other work would);
- ``selectin``: the same program with ``selectinload`` (two queries in all);
- ``batch``: a batch job updating 12 users one by one, with a pause between items;
- ``extended``: pgbench with the extended protocol (``$1`` with ``DETAIL: parameters``), a parent
  query then 12 lookups in one transaction, twice.

The ORM and pgbench runs are transactions, so what they find does not depend on how fast the
machine ran them; the autocommit pause rule is tested on written logs with exact timestamps.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli
from slowlog_servers import logging_cluster, reconfigure

from dbadmin.local import Cluster
from dbadmin.slowlog.logparse import parse_logs

USERS = 50
LOOKUPS = 12


def _engine(cluster: Cluster):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(
        f"postgresql+psycopg2://postgres@/postgres?host={cluster.socket_dir}&port={cluster.port}"
    )


@functools.cache
def _orm():  # type: ignore[no-untyped-def]
    """The application's own tables, mapped with a lazy-loading relationship as an app would."""
    from sqlalchemy.orm import DeclarativeBase, relationship

    from dbadmin.models import Base

    class AppBase(DeclarativeBase):
        pass

    class Todo(AppBase):
        __table__ = Base.metadata.tables["tasks"]

    class Owner(AppBase):
        __table__ = Base.metadata.tables["users"]
        tasks = relationship(Todo, lazy="select")

    return Owner, Todo  # both held: the registry keeps classes weakly


def _lazy(cluster: Cluster, eager: bool) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session, selectinload

    owner, _todo = _orm()
    engine = _engine(cluster)
    try:
        with Session(engine) as session:
            query = select(owner).order_by(owner.email).limit(USERS)
            if eager:
                query = query.options(selectinload(owner.tasks))
            users = session.scalars(query).all()
            loaded = 0
            for k, user in enumerate(users):
                loaded += len(user.tasks)
                if k % 10 == 9 and not eager:
                    time.sleep(0.15)  # a client's other work: the transaction still holds the run
            return loaded
    finally:
        engine.dispose()


def _batch(cluster: Cluster) -> None:
    from sqlalchemy import text

    engine = _engine(cluster)
    try:
        with engine.connect() as conn:
            ids = conn.execute(text("SELECT id FROM users ORDER BY email LIMIT 12")).scalars().all()
            conn.commit()
            for user_id in ids:  # one statement per item, then the item's other work
                conn.execute(
                    text("UPDATE users SET last_login = now() WHERE id = :id"), {"id": user_id}
                )
                conn.commit()
                time.sleep(0.15)
    finally:
        engine.dispose()


def _extended(cluster: Cluster, work: Path) -> None:
    script = work / "lookups.sql"
    lookups = "".join(
        f"\\set id{k} random(1, 100000)\nSELECT title FROM tasks WHERE id = :id{k};\n"
        for k in range(LOOKUPS)
    )
    script.write_text(
        "BEGIN;\nSELECT id, email FROM users ORDER BY email LIMIT 12;\n" + lookups + "COMMIT;\n"
    )
    subprocess.run(
        [str(cluster.bin_dir / "pgbench"), "-n", "-M", "extended", "-t", "2", "-f", str(script),
         "-h", str(cluster.socket_dir), "-p", str(cluster.port), "-U", "postgres", "postgres"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def program_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    from dbadmin.models import Base

    root = tmp_path_factory.mktemp("slowlog-nplusone")
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-n1-"))
    os.chmod(sock, 0o777)
    cluster = logging_cluster(
        root,
        sock,
        {
            "log_filename": "'setup.log'",
            "log_destination": "'stderr,csvlog,jsonlog'",
            "log_line_prefix": "'%m [%p] %q%u@%d %a '",  # the fields csvlog and jsonlog carry
        },
    )
    programs = {
        "lazy": lambda: _lazy(cluster, eager=False),
        "selectin": lambda: _lazy(cluster, eager=True),
        "batch": lambda: _batch(cluster),
        "extended": lambda: _extended(cluster, root),
    }
    try:
        cluster.ensure_running()
        engine = _engine(cluster)
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO users (email, password_hash) "
                f"SELECT 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS + 10}) g"
            )
            conn.exec_driver_sql(
                "INSERT INTO tasks (user_id, title) "
                "SELECT u.id, 'task ' || g FROM users u, generate_series(1, 3) g"
            )
        engine.dispose()
        for name, program in programs.items():
            reconfigure(cluster, {"log_filename": f"'{name}.log'"})
            cluster.ensure_running()
            program()
    finally:
        cluster.stop()
    yield {name: root / "pgdata" / "collected" / f"{name}.log" for name in programs}
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)


def test_lazy_loading_is_named_with_its_parent_and_exact_count(
    program_logs: dict[str, Path], cli: Cli
) -> None:
    res = cli("slow-queries", "log", str(program_logs["lazy"]), "--json")
    assert res.exit_code == 0, res.stderr
    found = res.json()["n_plus_one"]  # type: ignore[index]
    assert len(found) == 1, found
    group = found[0]
    assert group["query"].startswith("SELECT tasks.id")
    assert "tasks.user_id" in group["query"]
    assert group["parent_query"].startswith("SELECT users.id")
    assert "FROM users ORDER BY users.email" in group["parent_query"]
    assert group["total_repetitions"] == USERS
    assert group["occurrences"] == 1 and group["median_run_length"] == USERS
    assert group["total_ms"] > 0 and group["example_pid"].isdigit()
    assert group["example"]["run_length"] == USERS
    assert len(group["example"]["statements"]) == 3
    assert "selectinload" in group["fix"] and "JOIN" in group["fix"]
    assert "WHERE tasks.user_id = ANY($1::UUID[])" in group["fix"]  # the batch query, written
    text = cli("slow-queries", "log", str(program_logs["lazy"]))
    assert "N+1 queries" in text.stdout and "SELECT tasks.id" in text.stdout


def test_eager_loading_and_a_paced_batch_job_are_not_n_plus_one(
    program_logs: dict[str, Path],
) -> None:
    eager = parse_logs([program_logs["selectin"]])
    assert any("IN (" in g.query and "tasks" in g.query for g in eager.groups)  # selectinload ran
    assert eager.n_plus_one == ()
    batch = parse_logs([program_logs["batch"]])
    update = next(g for g in batch.groups if g.query.startswith("UPDATE users"))
    assert update.count == 12  # a loop of one statement per item, as long as an N+1's
    assert batch.n_plus_one == ()
    assert parse_logs([program_logs["batch"]], n_plus_one_min=2).n_plus_one == ()


def test_extended_protocol_parameters_in_detail_lines(program_logs: dict[str, Path]) -> None:
    log = program_logs["extended"]
    assert "DETAIL:  parameters: $1 = '" in log.read_text().replace("Parameters", "parameters")
    (group,) = parse_logs([log]).n_plus_one
    assert group.query.startswith("SELECT title FROM tasks WHERE id = $1")
    assert group.parent_query.startswith("SELECT id, email FROM users")
    assert group.occurrences == 2 and group.total_repetitions == 2 * LOOKUPS
    assert group.example_statements[0][1] is not None  # the parameters of the example run
    assert "= ANY($1)" in group.fix


@pytest.mark.parametrize("program", ["lazy", "extended"])
def test_stderr_csvlog_and_jsonlog_find_the_same(
    program_logs: dict[str, Path], program: str
) -> None:
    stderr = program_logs[program]
    docs = [
        parse_logs([path]).as_dict()
        for path in (stderr, stderr.with_suffix(".csv"), stderr.with_suffix(".json"))
    ]
    for doc in docs:
        for volatile in ("files", "formats", "prefixes", "lines", "bytes_read"):
            doc.pop(volatile)
    assert docs[0]["n_plus_one"] and docs[0] == docs[1] == docs[2]


def test_n_plus_one_min_is_validated(program_logs: dict[str, Path], cli: Cli) -> None:
    res = cli("slow-queries", "log", str(program_logs["lazy"]), "--n-plus-one-min", "1")
    assert res.exit_code == 2 and "--n-plus-one-min" in res.stderr
    res = cli("slow-queries", "log", str(program_logs["lazy"]), "--json", "--n-plus-one-min", "51")
    assert res.exit_code == 0 and res.json()["n_plus_one"] == []  # type: ignore[index]


def test_html_report_shows_the_n_plus_one_with_an_example_run(
    program_logs: dict[str, Path], cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    res = cli("slow-queries", "log", str(program_logs["lazy"]), "--html", str(out))
    assert res.exit_code == 0, res.stderr
    page = out.read_text()
    section = page[page.index("<h2>N+1 queries (1)</h2>") :]
    assert "FROM tasks WHERE" in section and "FROM users ORDER BY users.email" in section
    assert f"{USERS} statements" in section and "(parent)" in section
    assert f"… {USERS - 3} more" in section and "selectinload" in section
    assert "N+1 queries" not in _html_of(program_logs["selectin"], cli, tmp_path)


def _html_of(log: Path, cli: Cli, tmp_path: Path) -> str:
    out = tmp_path / "eager.html"
    assert cli("slow-queries", "log", str(log), "--html", str(out)).exit_code == 0
    return out.read_text()


def _written_log(tmp_path: Path, sessions: dict[int, list[tuple[float, str]]]) -> Path:
    """A stderr log with exact times: per pid, (seconds after 10:00:05 when the statement ended,
    statement) with a 1 ms duration each."""
    lines = []
    for pid, statements in sessions.items():
        for at, sql in statements:
            at += 5
            stamp = f"2026-01-01 10:{int(at // 60):02d}:{at % 60:06.3f} UTC"
            lines.append((at, f"{stamp} [{pid}] LOG:  duration: 1.000 ms  statement: {sql}\n"))
    path = tmp_path / "written.log"
    path.write_text("".join(line for _at, line in sorted(lines)))
    return path


def _lookups(start: float, pause: float, n: int = 12) -> list[tuple[float, str]]:
    return [
        (start + k * pause, f"SELECT title FROM tasks WHERE user_id = {k + 1}") for k in range(n)
    ]


def test_a_transaction_is_one_unit_of_work_whatever_its_pauses(tmp_path: Path) -> None:
    parent = (0.0, "SELECT id FROM users ORDER BY email LIMIT 12")
    slow_client = [(-0.5, "BEGIN"), parent, *_lookups(1.0, 0.8), (11.0, "COMMIT")]
    (group,) = parse_logs([_written_log(tmp_path, {7: slow_client})]).n_plus_one
    assert group.total_repetitions == 12 and group.parent_query.startswith("SELECT id FROM users")
    assert group.example_pid == "7"

    autocommit = [parent, *_lookups(1.0, 0.8)]  # the same pauses without a transaction: a batch
    assert parse_logs([_written_log(tmp_path, {7: autocommit})]).n_plus_one == ()
    fast_autocommit = [parent, *_lookups(0.01, 0.003)]
    (group,) = parse_logs([_written_log(tmp_path, {7: fast_autocommit})]).n_plus_one
    assert group.total_repetitions == 12


def test_a_run_never_crosses_the_end_of_a_transaction(tmp_path: Path) -> None:
    parent = (0.0, "SELECT id FROM users ORDER BY email LIMIT 12")
    lookups = _lookups(0.01, 0.002)
    split = [(-0.1, "BEGIN"), parent, *lookups[:6], (0.03, "COMMIT"), (0.031, "BEGIN"),
             *[(at + 0.03, sql) for at, sql in lookups[6:]], (0.2, "COMMIT")]  # fmt: skip
    assert parse_logs([_written_log(tmp_path, {7: split})]).n_plus_one == ()
    assert len(parse_logs([_written_log(tmp_path, {7: split})], n_plus_one_min=6).n_plus_one) == 1
    savepoints = [(-0.1, "BEGIN"), parent, *lookups[:6], (0.022, "SAVEPOINT a"),
                  (0.023, "ROLLBACK TO SAVEPOINT a"), *lookups[6:], (0.2, "COMMIT")]  # fmt: skip
    (group,) = parse_logs([_written_log(tmp_path, {7: sorted(savepoints)})]).n_plus_one
    assert group.total_repetitions == 12  # a savepoint does not end the transaction


def test_median_run_length_is_statistics_median() -> None:
    """median_run_length comes from dbadmin.stats.median (statistics.median without its import
    cost on every `slow-queries log`): the same figures."""
    import statistics

    from dbadmin.stats import median

    for runs in ([50], [10, 30], [12, 10, 11], [3, 1, 4, 1, 5, 9], list(range(1, 101))):
        assert median(runs) == float(statistics.median(runs))
    assert median([]) == 0.0
