"""The public Python API (dbadmin.api), driven without the CLI against the real test server.

Each function is called the way a cron wrapper, a notebook or an application's own tests would:
with a URL string or a Settings, keyword options, and callbacks for notices and confirmations.
The results are typed; their ``as_dict()`` is the document the CLI prints with ``--json``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbadmin import api
from dbadmin.errors import ConnectError, DbadminError, ProblemFound, UsageError
from dbadmin.settings import Settings, resolve
from dbadmin.urls import DbUrl
from tests.conftest import PgServer

HEAD = "0003"
DATA = Path(__file__).parent / "data"


class Asked:
    """A confirm callback that records what it was asked (and agrees, or refuses)."""

    def __init__(self, agree: bool = True) -> None:
        self.agree = agree
        self.actions: list[tuple[str, str | None]] = []

    def __call__(self, action: str, *, typed: str | None = None) -> None:
        self.actions.append((action, typed))
        if not self.agree:
            raise UsageError("cancelled; nothing was changed")


def settings(url: DbUrl, tmp_path: Path) -> Settings:
    return resolve(database_url=url.render(), environ={}, cwd=tmp_path)


def roundtrip(result: object) -> object:
    """as_dict() is one JSON document (what --json prints)."""
    document = result.as_dict()  # type: ignore[attr-defined]
    return json.loads(json.dumps(document, default=str))


# --- settings ---------------------------------------------------------------------------------
def test_target_is_a_url_or_settings(fresh_db: DbUrl, tmp_path: Path) -> None:
    from_url = api.settings_for(fresh_db.render())
    assert from_url.url.database == fresh_db.database and from_url.url_source == "--database-url"
    given = settings(fresh_db, tmp_path)
    assert api.settings_for(given) is given


def test_errors_are_dbadmin_errors_never_exits(pg_server: PgServer, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        api.verify(pg_server.url().render(), directory=tmp_path)  # no name, no latest
    dead = DbUrl.parse("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    quick = resolve(
        database_url=dead.render(), environ={"DBADMIN_CONNECT_RETRY": "0"}, cwd=tmp_path
    )
    with pytest.raises(ConnectError):
        api.schema_show(quick)


# --- migrations -------------------------------------------------------------------------------
@pytest.fixture
def no_cli_logging() -> Iterator[None]:
    """A CLI test run earlier in this process routed the ``dbadmin`` logger to stderr (what the
    CLI does, not the API): take that handler off while an API test checks that nothing prints."""
    import logging

    logger = logging.getLogger("dbadmin")
    saved = (list(logger.handlers), logger.propagate)
    logger.handlers.clear()
    try:
        yield
    finally:
        logger.handlers[:] = saved[0]
        logger.propagate = saved[1]


def test_migrations(
    fresh_db: DbUrl, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cli_logging: None
) -> None:
    url = fresh_db.render()
    notices: list[str] = []
    up = api.migrate_up(url, notice=notices.append)
    assert isinstance(up, api.MigrationRun)
    assert up.result.after == (HEAD,) and up.result.before == ()
    assert [r["revision"] for r in roundtrip(up)["revisions"]] == ["0001", "0002", HEAD]  # type: ignore[index]

    status = api.migrate_status(url)
    assert status.status.at_head and not status.changed_files
    assert roundtrip(status)["current"] == [HEAD]  # type: ignore[index]
    history = api.migrate_history(url)
    assert [r.revision for r in history.revisions] == [HEAD, "0002", "0001"]
    assert history.as_dict()[0]["head"] is True
    check = api.migrate_check(url)
    assert check.ok and check.as_dict()["drift"] == []
    assert "CREATE TABLE" in api.migrate_sql(url, "base:head")

    refused = Asked(agree=False)
    with pytest.raises(UsageError):
        api.migrate_down(url, "nosuchrevision", confirm=refused)
    assert refused.actions == []  # an unknown revision is refused before asking
    with pytest.raises(UsageError):
        api.migrate_down(url, "base", confirm=refused)
    assert api.migrate_status(url).status.at_head  # refused: nothing changed
    asked = Asked()
    down = api.migrate_down(url, "-1", confirm=asked)
    assert down.result.after == ("0002",) and "revert database" in asked.actions[0][0]
    stamped = api.migrate_stamp(url, "head")
    assert stamped.as_dict()["after"] == [HEAD]
    assert capsys.readouterr() == ("", "")  # the API never prints


def test_migrate_new_and_lint(fresh_db: DbUrl, tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "proj"
    shutil.copytree(Path(__file__).parents[1] / "migrations", project / "migrations")
    ini = project / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    url = fresh_db.render()
    api.migrate_up(url, config=str(ini))
    written = api.migrate_new(url, "add nothing", config=str(ini))
    assert Path(written.written.path).is_file() and written.as_dict()["revision"]
    linted = api.migrate_lint(url, "base:head", config=str(ini))
    assert linted.lint.squawk and set(linted.lint.revisions) >= {"0001", HEAD}
    assert linted.as_dict()["errors"] == len(linted.lint.errors)


# --- schema and seed (an application's own tests) -----------------------------------------------
def test_schema_and_seed(fresh_db: DbUrl, tmp_path: Path) -> None:
    target = settings(fresh_db, tmp_path)
    created = api.schema_create(target)
    assert "tasks" in created.result.tables and created.result.stamped == (HEAD,)
    assert api.schema_diff(target).identical

    notices: list[str] = []
    run = api.seed(target, rows={"tasks": 30}, seed=7, now="2026-01-31", notice=notices.append)
    assert run.ok and run.result.seed == 7
    assert {t.table: t.rows for t in run.result.tables}["tasks"] == 30
    assert run.as_dict() == run.result.to_dict()
    with pytest.raises(UsageError):  # tables with rows, neither append nor reset
        api.seed(target, rows={"tasks": 30})
    asked = Asked()
    again = api.seed(target, rows={"tasks": 5}, reset=True, confirm=asked)
    assert "TRUNCATE" in asked.actions[0][0]
    assert {t.table: t.rows for t in again.result.tables}["tasks"] == 5

    shown = api.schema_show(target, "tasks")
    assert [t.name for t in shown.report.tables] == ["tasks"]
    doc = roundtrip(shown)
    assert doc["tables"][0]["foreign_keys"] and doc["database"] == fresh_db.database  # type: ignore[index]

    docs = api.schema_docs(target)
    assert roundtrip(docs)
    out = tmp_path / "schema-docs"
    written = api.schema_docs_write(target, out)
    assert written.pages > 1 and len(list(out.rglob("*.md"))) == written.pages
    assert api.schema_docs_write(target, out, check=True).up_to_date
    assert api.schema_docs_html(target, tmp_path / "schema.html") == written.pages

    asked = Asked()
    dropped = api.schema_drop(target, confirm=asked)
    assert "tasks" in dropped.result.dropped and asked.actions[0][1] == fresh_db.database


# --- explain (a notebook) -----------------------------------------------------------------------
def test_explain(app_db: DbUrl, tmp_path: Path) -> None:
    url = app_db.render()
    report = api.explain(url, "SELECT * FROM tasks WHERE title = :t", params=["t=x"])
    assert report.analysis.nodes and report.params == {"t": "x"}
    assert report.problem() is None
    doc = roundtrip(report)
    assert doc["query_name"] is None and doc["timing"]["runs"] == 1  # type: ignore[index]

    baseline = tmp_path / "base.json"
    notices: list[str] = []
    api.explain(url, "SELECT count(*) FROM tasks", save=baseline, notice=notices.append, runs=2)
    assert baseline.exists() and notices == [f"baseline saved to {baseline}"]
    compared = api.explain(url, compare=baseline, runs=2, p95_target="10s")
    assert compared.comparison is not None and compared.stats is not None
    assert compared.stats.runs == 2 and compared.problem() is None

    plan = (DATA / "explain" / "pg16_hash_spill.json").read_text()
    offline = api.explain(plan_text=plan)
    assert offline.stats is None and any(f.kind for f in offline.analysis.findings)
    from_file = api.explain(plan_file=DATA / "explain" / "pg16_hash_spill.json")
    assert from_file.analysis.findings == offline.analysis.findings
    with pytest.raises(UsageError):
        api.explain(url)  # nothing to explain


def test_explain_catalog(app_db: DbUrl, tmp_path: Path) -> None:
    listing = api.catalog_queries()
    names = [q.name for q in listing.queries]
    assert names and roundtrip(listing)["queries"][0]["name"] == names[0]  # type: ignore[index]
    saved = tmp_path / "baselines"
    api.seed(app_db.render(), profile="dev", scale=0.1)  # catalog defaults come from the data
    report = api.explain_catalog(app_db.render(), no_analyze=True, save_dir=saved)
    assert [q.name for q in report.queries] == names
    assert [q.error for q in report.queries if q.error] == []
    assert report.problem() is None
    assert sorted(p.stem for p in saved.iterdir()) == sorted(names)
    again = api.explain_catalog(app_db.render(), no_analyze=True, compare_dir=saved)
    assert all(q.comparison is not None for q in again.queries)
    with pytest.raises(UsageError):
        api.explain_catalog(app_db.render(), compare_dir=tmp_path / "missing")


def test_catalog_report_problems() -> None:
    failed = api.CatalogReport((api.CatalogQueryRun("q1", error="boom", exit_code=1),))
    problem = failed.problem()
    assert isinstance(problem, ProblemFound) and "q1" in problem.what
    assert failed.as_dict() == {"queries": [{"name": "q1", "error": "boom", "exit_code": 1}]}


# --- backups (a cron wrapper) ---------------------------------------------------------------------
def test_backup_verify_restore_prune(pg_server: PgServer, app_db: DbUrl, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    source = settings(app_db, tmp_path)
    api.seed(source, rows={"tasks": 20})
    first = api.backup(source, directory=folder, name="first")
    assert first.result.manifest.row_counts["public.tasks"] == 20
    doc = roundtrip(first)
    assert doc["name"] == "first" and doc["manifest"]["sha256"]  # type: ignore[index]
    second = api.backup(source, directory=folder, name="second", format="plain")
    assert Path(second.result.data_path).suffix == ".sql"

    listed = api.list_backups(source, directory=folder)
    assert set(listed.names) == {"first", "second"}
    assert {b["name"] for b in roundtrip(listed)["backups"]} == {"first", "second"}  # type: ignore[index]

    checked = api.verify(source, "first", directory=folder)
    assert checked.ok and checked.as_dict()["checks"][0]["name"] == "sha256"

    target = pg_server.url(f"{app_db.database}_copy")
    plan = api.restore(
        source, "first", target_url=target.render(), create=True, directory=folder, dry_run=True
    )
    assert plan.result is None and plan.as_dict()["dry_run"] is True
    asked = Asked()
    try:
        restored = api.restore(
            source,
            "first",
            target_url=target.render(),
            create=True,
            directory=folder,
            confirm=asked,
        )
        assert restored.ok and restored.result is not None
        assert restored.result.row_counts["public.tasks"] == 20
        assert asked.actions[0][1] == target.database  # the name to type
        assert roundtrip(restored)["mismatches"] == []  # type: ignore[index]
    finally:
        pg_server.drop_database(target.database or "")

    dry = api.prune(source, keep=1, directory=folder, dry_run=True)
    assert [d.entry.name for d in dry.plan.delete] == ["first"] and dry.as_dict()["dry_run"]
    asked = Asked()
    pruned = api.prune(source, keep=1, directory=folder, confirm=asked)
    assert pruned.as_dict()["deleted"] == [{"name": "first", "reason": "beyond the newest 1"}]
    assert api.list_backups(source, directory=folder).names == ("second",)
    assert "delete 1 backup(s)" in asked.actions[0][0]


def test_migrate_up_with_a_backup_first(fresh_db: DbUrl, tmp_path: Path) -> None:
    target = settings(fresh_db, tmp_path)
    notices: list[str] = []
    run = api.migrate_up(target, backup=True, notice=notices.append)
    assert run.result.after == (HEAD,)
    taken = [n for n in notices if "taken before migrating" in n]
    assert len(taken) == 1 and "revision none" in taken[0]
    assert len(api.list_backups(target).names) == 1  # in the settings' backup directory
    # migrate_up imported the backups submodule: api.backup is still the function, not a module
    assert inspect.isfunction(api.backup)
    again = api.backup_before_migration(target)
    assert again.result.manifest.alembic_revision == HEAD
    assert len(api.list_backups(target).names) == 2


# --- checks (monitoring) ----------------------------------------------------------------------------
def test_health_pool_audit_doctor(app_db: DbUrl, tmp_path: Path) -> None:
    url = app_db.render()
    prom = tmp_path / "dbadmin.prom"
    report = api.health(url, checks=["connections", "cache_hit"], prometheus=prom, timeout=20)
    assert [c.name for c in report.checks] == ["connections", "cache_hit"]
    assert report.error is None and report.exit_code in (0, 1, 2)
    assert roundtrip(report)["checks"] and "dbadmin_" in prom.read_text()  # type: ignore[index]
    with pytest.raises(UsageError):
        api.health(url, checks=["nosuchcheck"])

    pool = api.pool_check(url, concurrency=2, duration=0.3)
    assert pool.checkouts > 0 and pool.errors == 0 and roundtrip(pool)

    audited = api.audit(url, checks=["public_schema_create", "tls"])
    assert [c.name for c in audited.checks] == ["tls", "public_schema_create"]
    assert roundtrip(audited)

    doctor = api.doctor(url)
    assert doctor.connect_error is None and any(c.name for c in doctor.checks)
    assert roundtrip(doctor)


def test_audit_apply(pg_server: PgServer, fresh_db: DbUrl) -> None:
    pg_server.execute("GRANT CREATE ON SCHEMA public TO PUBLIC", fresh_db.database or "")
    url = fresh_db.render()
    found = api.audit(url, checks=["public_schema_create"])
    assert found.exit_code == 2 and found.fix_statements()
    refused, shown = Asked(agree=False), []
    with pytest.raises(UsageError):
        api.audit(url, checks=["public_schema_create"], apply=True, confirm=refused,
                  on_fix_script=shown.append)  # fmt: skip
    assert "REVOKE" in shown[0] and "transaction" in refused.actions[0][0]
    assert api.audit(url, checks=["public_schema_create"]).exit_code == 2  # refused: unchanged
    fixed = api.audit(url, checks=["public_schema_create"], apply=True)
    assert fixed.exit_code == 0 and fixed.applied == len(found.fix_statements())


# --- slow queries -------------------------------------------------------------------------------------
def test_slow_queries(fresh_db: DbUrl, tmp_path: Path) -> None:
    url = fresh_db.render()
    enabled = api.slow_enable(url, threshold="100ms")
    assert enabled.ok and roundtrip(enabled)
    notices: list[str] = []
    top = api.slow_top(url, limit=5, html=tmp_path / "top.html", notice=notices.append)
    assert top.source == "pg_stat_statements" and len(top.statements) <= 5
    assert notices == [f"wrote {tmp_path / 'top.html'}"] and roundtrip(top)
    snap = api.slow_snapshot(url, keep_days=1)
    assert snap.entries >= 0 and snap.keep_days == 1 and roundtrip(snap)


def test_parse_logs(tmp_path: Path) -> None:
    log = tmp_path / "postgresql.log"
    log.write_text(
        "".join(
            f"2026-01-01 10:00:0{i}.000 UTC [42] LOG:  duration: {10 + i}.000 ms  "
            f"statement: SELECT * FROM tasks WHERE id = {i}\n"
            for i in range(5)
        )
    )
    summary = api.parse_logs([log], prefix="%m [%p] ", top=1)
    assert summary.report.total_queries == 5 and len(summary.report.groups) == 1
    assert summary.report.groups[0].count == 5
    assert summary.as_dict() == summary.report.as_dict(top=1)
    with pytest.raises(UsageError):
        api.parse_logs([log], top=0)


# --- the embedded server ----------------------------------------------------------------------------
def test_local_without_starting(tmp_path: Path) -> None:
    home = resolve(environ={"DBADMIN_HOME": str(tmp_path / "home")}, cwd=tmp_path)
    assert home.embedded
    status = api.local_status(home)
    assert not status.running and status.as_dict()["initialized"] is False
    assert api.local_stop(home) is False
    refused = Asked(agree=False)
    with pytest.raises(DbadminError):
        api.local_destroy(home, confirm=refused)
    assert refused.actions[0][1] == "destroy"


def test_local_lifecycle(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    home = resolve(environ={"DBADMIN_HOME": str(tmp_path / "home")}, cwd=tmp_path)
    assert api.local_start(home) is True
    try:
        assert api.local_status(home).running and api.local_start(home) is False
        assert DbUrl.parse(api.local_url(home)).database == "postgres"
        with caplog.at_level("INFO", logger="dbadmin"):
            shown = api.schema_show(home)  # the embedded server is the target: used, said so
        assert shown.report.tables == ()
        assert "using the embedded PostgreSQL" in caplog.text
        assert api.local_stop(home) is True
    finally:
        deleted = api.local_destroy(home)
    assert not Path(deleted).exists()
