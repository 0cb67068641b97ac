"""Chaos suite, secrets (issue 13, items 4, 9 and 10): a password in any form a user may write it
never reaches any output, ``--debug`` works before or after the command and its traceback is
scrubbed too, and files holding query text or data are created 0600.

Against the session's real server: a login role whose password holds ``@ : / % # ?``, given as
a percent-encoded URL, a raw (unencoded) URL, ``?password=`` and a libpq key=value string.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import PASSWORD, PASSWORD_ROLE, Cli, CliResult, PgServer

from dbadmin.errors import ExitCode
from dbadmin.urls import DbUrl, scrub

ROLE = "chaos_secret_role"
SECRET = "Kq7@:/%#?zV-8p@x"  # every character a URL parser trips on, and two "@"
WRONG = "Wr0ng@:/%#?Pw-4u"
FORMS = ("encoded", "raw", "query", "keywords")


def connection_string(form: str, port: int, database: str, password: str = SECRET) -> str:
    """The same login written the four ways dbadmin accepts."""
    encoded = quote(password, safe="")
    return {
        "encoded": f"postgresql://{ROLE}:{encoded}@127.0.0.1:{port}/{database}",
        "raw": f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{database}",
        "query": f"postgresql://127.0.0.1:{port}/{database}?user={ROLE}&password={encoded}",
        "keywords": (
            f"host=127.0.0.1 port={port} dbname={database} user={ROLE} password='{password}'"
        ),
    }[form]


def leaks(text: str, secret: str = SECRET) -> list[str]:
    """Every 4-character piece of ``secret``, and its percent-encoded form, found in ``text``."""
    pieces = {secret[i : i + 4] for i in range(len(secret) - 3)} | {quote(secret, safe="")}
    return sorted(piece for piece in pieces if piece in text)


def assert_clean(*texts: str, secret: str = SECRET) -> None:
    for text in texts:
        assert leaks(text, secret) == [], text


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def secret_role(pg_server: PgServer) -> Iterator[str]:
    if pg_server.tcp_port is None:
        pytest.skip("password logins need the harness's own server")
    literal = SECRET.replace("'", "''")
    pg_server.execute(f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{literal}'")
    try:
        yield ROLE
    finally:
        pg_server.execute(f"DROP ROLE IF EXISTS {ROLE}")


@pytest.fixture
def secret_db(pg_server: PgServer, fresh_db: DbUrl, secret_role: str) -> str:
    """A fresh database with a small table and pg_stat_statements."""
    name = fresh_db.database or "postgres"
    pg_server.execute(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
        "CREATE TABLE items AS SELECT g AS id, g % 7 AS n FROM generate_series(1, 500) g; "
        "ANALYZE items",
        name,
    )
    return name


# --- parsing and masking, no server ------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_every_form_parses_to_the_same_login_and_masks(form: str) -> None:
    url = DbUrl.parse(connection_string(form, 5432, "app"))
    assert (url.user, url.password, url.host, url.port, url.database) == (
        ROLE, SECRET, "127.0.0.1", 5432, "app",
    )  # fmt: skip
    assert url.query == ()  # ?user= and ?password= became the URL's parts, as in libpq
    assert_clean(url.masked(), str(url), repr(url), url.describe())
    assert_clean(scrub(connection_string(form, 5432, "app")))
    assert_clean(scrub(f"failed: {connection_string(form, 5432, 'app')}, retrying"))


def test_scrub_masks_libpq_and_environment_spellings() -> None:
    texts = [
        f"PGPASSWORD={SECRET} pg_dump",
        f"password = '{SECRET}' host=x",
        f"password={SECRET.replace(' ', chr(92) + ' ')}",
        f"DATABASE_URL='postgresql://u:{SECRET}@h/db' was refused",
    ]
    for text in texts:
        assert_clean(scrub(text))


# --- every output surface, every form, both lanes ---------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_no_output_surface_shows_the_password(
    form: str, cli: Cli, pg_server: PgServer, secret_db: str, tmp_path: Path
) -> None:
    assert pg_server.tcp_port is not None
    url = connection_string(form, pg_server.tcp_port, secret_db)
    env = {"DATABASE_URL": url, "DBADMIN_CONNECT_RETRY": "0"}
    results: list[CliResult] = []

    def run(*args: str, ok: tuple[int, ...] = (0,)) -> CliResult:
        res = cli(*args, env=env)
        assert res.exit_code in ok, (args, res.stdout, res.stderr)
        results.append(res)
        return res

    doctor = run("doctor", "--json", ok=(0, 1))
    checks = {c["name"]: c for c in doctor.json()["checks"]}  # type: ignore[index]
    assert checks["url"]["value"].startswith(f"postgresql://{ROLE}:***@127.0.0.1")
    run("doctor", "-d", url, ok=(0, 1))

    prom = tmp_path / "health.prom"
    run("health", "--json", "--prometheus", str(prom), "--check", "connections", ok=(0, 1, 2))
    run("health", "--check", "connections", ok=(0, 1, 2))

    html = tmp_path / "plan.html"
    baseline = tmp_path / "plan.json"
    sql = "SELECT count(*) FROM items WHERE n = 3"
    run("explain", sql, "--json", "--html", str(html), "--save", str(baseline))
    run("explain", sql)

    run("slow-queries", "top", "--json")
    slow_html = tmp_path / "slow.html"
    run("slow-queries", "top", "--html", str(slow_html))

    backups = tmp_path / "bk"
    created = run("backup", "create", "--dir", str(backups), "--json")
    manifest = Path(created.json()["manifest_path"])  # type: ignore[index]
    assert f"{ROLE}:***@" in json.loads(manifest.read_text())["database"]
    run("backup", "list", "--dir", str(backups))
    run("backup", "list", "--dir", str(backups), "--json")

    # a server error whose text holds the password, with --debug's traceback
    failed = run("explain", f"SELECT '{SECRET}'::int", "--debug", ok=(ExitCode.PROBLEM,))
    assert "Traceback" in failed.stderr and "invalid input syntax" in failed.stderr

    files = [prom, html, baseline, slow_html, manifest]
    assert_clean(*(r.stdout + r.stderr for r in results), *(f.read_text() for f in files))
    assert all(mode_of(f) == 0o600 for f in (prom, html, baseline, slow_html)), [
        oct(mode_of(f)) for f in files
    ]


@pytest.mark.parametrize("form", FORMS)
def test_a_wrong_password_names_the_real_user_and_shows_neither_password(
    form: str, cli: Cli, pg_server: PgServer, secret_role: str
) -> None:
    assert pg_server.tcp_port is not None
    url = connection_string(form, pg_server.tcp_port, "postgres", password=WRONG)
    for args in (("--debug", "doctor", "-d", url), ("explain", "-d", url, "SELECT 1", "--debug")):
        res = cli(*args, env={"DBADMIN_CONNECT_RETRY": "0"})
        assert res.exit_code == ExitCode.CONNECT, res.stderr
        assert f"authentication failed for user {ROLE} " in res.stderr
        assert "(default)" not in res.stderr
        assert_clean(res.stdout + res.stderr, secret=WRONG)
        assert_clean(res.stdout + res.stderr)


def test_password_query_parameter_on_the_harness_role(cli: Cli, pg_server: PgServer) -> None:
    """The issue's case: the user and a wrong password only in the query string."""
    assert pg_server.tcp_port is not None
    url = f"postgresql://127.0.0.1:{pg_server.tcp_port}/postgres?user={PASSWORD_ROLE}&password=nope-{PASSWORD}"
    res = cli("doctor", "-d", url, "--json", env={"DBADMIN_CONNECT_RETRY": "0"})
    assert res.exit_code == ExitCode.CONNECT
    assert f"authentication failed for user {PASSWORD_ROLE} " in res.stderr
    assert PASSWORD not in res.stdout + res.stderr


# --- --debug wherever it is given -------------------------------------------------------------
DEBUG_COMMANDS = [
    ("doctor",),
    ("explain", "SELECT 1"),
    ("backup",),
    ("backup", "create"),
    ("migrate", "status"),
    ("slow-queries", "top"),
    ("health", "pool"),
    ("schema", "show"),
    ("seed",),
]


@pytest.mark.parametrize("command", DEBUG_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command_prints_a_scrubbed_traceback(
    command: tuple[str, ...], where: str, cli: Cli, free_port: int
) -> None:
    url = connection_string("raw", free_port, "app")  # nothing listens there
    args = ("--debug", *command) if where == "before" else (*command, "--debug")
    res = cli(*args, env={"DATABASE_URL": url, "DBADMIN_CONNECT_RETRY": "0"})
    assert res.exit_code == ExitCode.CONNECT, res.stderr
    assert "Traceback (most recent call last)" in res.stderr
    assert res.stderr.rstrip().splitlines()[-1].startswith("dbadmin: error: cannot connect")
    assert_clean(res.stdout + res.stderr)
    plain = cli(*command, env={"DATABASE_URL": url, "DBADMIN_CONNECT_RETRY": "0"})
    assert plain.exit_code == ExitCode.CONNECT and "Traceback" not in plain.stderr


def test_debug_between_a_group_and_its_subcommand(cli: Cli, tmp_path: Path) -> None:
    res = cli("backup", "--debug", "verify", "nope", "--dir", str(tmp_path))
    assert res.exit_code != 0 and "No such option" not in res.stderr
    assert "Traceback" in res.stderr


@pytest.fixture
def free_port() -> int:
    from conftest import free_port as pick

    return pick()


# --- files with query text or data: 0600 --------------------------------------------------------
def test_output_files_are_private_and_a_chosen_mode_is_kept(tmp_path: Path) -> None:
    from dbadmin.files import write_atomically

    new = tmp_path / "new.html"
    write_atomically(new, "<p>select secret</p>")
    assert mode_of(new) == 0o600
    shared = tmp_path / "node.prom"
    shared.write_text("old\n")
    shared.chmod(0o640)  # an administrator let node_exporter's group read it
    write_atomically(shared, "new\n")
    assert shared.read_text() == "new\n" and mode_of(shared) == 0o640


@pytest.mark.parametrize(
    ("raw", "expected"),
    [  # (user, password, host, port, database, query): the standard reading wins when it works
        (
            "postgresql://h:5432/db?application_name=a@b",
            (None, None, "h", 5432, "db", (("application_name", "a@b"),)),
        ),
        ("postgresql://u:p@ss@h/db", ("u", "p@ss", "h", None, "db", ())),
        ("postgresql://u:50%off@h/db", ("u", "50%off", "h", None, "db", ())),
        ("postgresql://u:a%40b@h/db", ("u", "a@b", "h", None, "db", ())),
        (
            "postgresql://u:x?y#z@h:6543/db?sslmode=disable",
            ("u", "x?y#z", "h", 6543, "db", (("sslmode", "disable"),)),
        ),
    ],
)
def test_raw_and_encoded_passwords_read_as_libpq_users_mean(raw: str, expected: tuple) -> None:
    url = DbUrl.parse(raw)
    assert (url.user, url.password, url.host, url.port, url.database, url.query) == expected


# --- other sessions' statements: pg_stat_statements and server logs -----------------------------
ROLE_SQL = [
    f"CREATE ROLE chaos_other LOGIN PASSWORD '{SECRET}'",
    f"ALTER ROLE chaos_other WITH ENCRYPTED PASSWORD E'{SECRET}'",
]


def test_role_passwords_in_pg_stat_statements_are_masked(
    cli: Cli, pg_server: PgServer, secret_db: str, tmp_path: Path
) -> None:
    """pg_stat_statements keeps utility statements verbatim (PostgreSQL 15 and 18 alike)."""
    try:
        for sql in ROLE_SQL:
            pg_server.execute(sql, secret_db)
        raw = pg_server.execute(
            "SELECT query FROM pg_stat_statements WHERE query ILIKE '%chaos_other%'", secret_db
        )
        assert any(SECRET in row[0] for row in raw)  # the leak this guards against is real
        url = pg_server.url(secret_db).render()
        page = tmp_path / "top.html"
        outputs = [
            cli("slow-queries", "top", "-d", url, "--top", "100", "--json"),
            cli("slow-queries", "top", "-d", url, "--top", "100", "--html", str(page)),
        ]
        assert all(res.exit_code == 0 for res in outputs), [res.stderr for res in outputs]
        assert "chaos_other" in outputs[0].stdout and "PASSWORD '***'" in outputs[0].stdout
        assert_clean(*(res.stdout + res.stderr for res in outputs), page.read_text())
    finally:
        pg_server.execute("DROP ROLE IF EXISTS chaos_other", secret_db)


def test_role_passwords_in_server_logs_are_masked(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "postgresql.log"
    lines = [
        f"2026-01-01 10:00:0{i}.000 UTC [4{i}] LOG:  duration: 12.5 ms  statement: {sql}"
        for i, sql in enumerate(ROLE_SQL)
    ]
    lines += [
        '2026-01-01 10:00:05.000 UTC [47] ERROR:  role "chaos_other" does not exist',
        f"2026-01-01 10:00:05.000 UTC [47] STATEMENT:  {ROLE_SQL[1]}",
        "2026-01-01 10:00:06.000 UTC [48] LOG:  duration: 3.0 ms  statement: "
        "SELECT dblink_connect('host=db password=" + quote(SECRET, safe="") + " dbname=app')",
    ]
    log.write_text("\n".join(lines) + "\n")
    page = tmp_path / "log.html"
    outputs = [
        cli("slow-queries", "log", str(log)),
        cli("slow-queries", "log", str(log), "--json", "--html", str(page)),
    ]
    assert all(res.exit_code == 0 for res in outputs), [res.stderr for res in outputs]
    doc = outputs[1].json()
    assert doc["total_queries"] == 3 and doc["errors"]  # type: ignore[index]
    assert_clean(*(res.stdout + res.stderr for res in outputs), page.read_text())
    assert mode_of(page) == 0o600


def test_a_password_left_idle_in_a_transaction_is_masked_in_health(
    cli: Cli, pg_server: PgServer, secret_db: str
) -> None:
    import time

    import psycopg2

    idle = psycopg2.connect(**pg_server.url(secret_db).connect_kwargs())
    try:
        with idle.cursor() as cur:  # the transaction stays open: idle in transaction
            cur.execute(f"CREATE ROLE chaos_idle PASSWORD '{SECRET}'")
        time.sleep(1.2)  # past the lowered threshold below (1 s)
        url = pg_server.url(secret_db).render()
        args = ("health", "-d", url, "-c", "idle_in_transaction", "--warn", "idle_in_transaction=1")
        outputs = [cli(*args, "--json"), cli(*args, "--nagios"), cli(*args)]
        assert [res.exit_code for res in outputs] == [1, 1, 1], [r.stderr for r in outputs]
        details = outputs[0].json()["checks"]["idle_in_transaction"]["details"]  # type: ignore[index]
        assert details[0]["last_query"] == "CREATE ROLE chaos_idle PASSWORD '***'"
        assert_clean(*(res.stdout + res.stderr for res in outputs))
    finally:
        idle.close()
