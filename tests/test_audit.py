"""`dbadmin audit`: each check fires on a database made to fail it and is OK on one that passes,
`--fix --apply --yes` turns every fixable finding OK, the migrated app schema audits clean and
isolates users, a Neon-like owner role audits without errors, and health's output contracts."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from conftest import PASSWORD, PASSWORD_ROLE, Cli, PgServer

from dbadmin.audit.checks import CHECK_NAMES
from dbadmin.audit.rls import unwrapped_calls, wrap_calls
from dbadmin.audit.sensitive import looks_protected
from dbadmin.urls import DbUrl

FIXABLE = (
    "password_encryption",
    "privileged_roles",
    "app_role_privileges",
    "public_schema_create",
    "public_grants",
    "rls_user_tables",
    "rls_policies",
    "security_definer_search_path",
    "security_definer_views",
    "extensions",
)
BCRYPT = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def audit(cli: Cli, url: DbUrl, *args: str, env: dict[str, str] | None = None) -> dict:
    """`dbadmin audit --json` (the harness's superuser login role is a documented one)."""
    res = cli("audit", "-d", url.render(), "--json", "--allow-role", PASSWORD_ROLE, *args, env=env)
    assert res.exit_code in (0, 1, 2, 3), res.stderr
    doc = res.json()
    assert isinstance(doc, dict) and doc["exit_code"] == res.exit_code, res.stdout
    return doc


def statuses(doc: dict) -> dict[str, str]:
    return {name: c["status"] for name, c in doc["checks"].items()}


def objects(doc: dict, check: str) -> set[str]:
    return {f["object"] for f in doc["checks"][check]["findings"]}


@pytest.fixture
def roles(pg_server: PgServer) -> Iterator[list[str]]:
    """Roles a test creates; their objects and privileges go with them afterwards."""
    made: list[str] = []
    yield made
    for role in reversed(made):
        for (db,) in pg_server.execute("SELECT datname FROM pg_database WHERE datallowconn"):
            try:
                pg_server.execute(f'DROP OWNED BY "{role}" CASCADE', db)
            except psycopg2.Error:
                pass
        pg_server.execute(f'DROP ROLE IF EXISTS "{role}"')


# --- the migrated app schema --------------------------------------------------------------------
def test_migrated_app_schema_audits_clean(cli: Cli, app_db: DbUrl) -> None:
    doc = audit(cli, app_db, "--skip", "tls", "--sample")
    assert doc["status"] == "OK", doc["summary"]
    assert set(doc["checks"]) == set(CHECK_NAMES) - {"tls"}
    assert doc["app_role"] == "app_user" and doc["error"] is None


# --- every check fires, --fix prints, --apply fixes ---------------------------------------------
def _failing_database(pg: PgServer, db: str, app: str, priv: str) -> None:
    """A database (and two roles) that fails every check; as the superuser."""
    pg.execute(f'CREATE ROLE "{app}" LOGIN BYPASSRLS')
    pg.execute(f'CREATE ROLE "{priv}" LOGIN CREATEDB')
    pg.execute(
        f'''
        ALTER DATABASE "{db}" SET password_encryption = 'md5';
        GRANT CREATE ON SCHEMA public TO PUBLIC;
        ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;
        CREATE EXTENSION citext VERSION '1.4' SCHEMA public;
        CREATE TABLE users (id uuid PRIMARY KEY, email text, api_token text);
        INSERT INTO users VALUES (gen_random_uuid(), 'a@example.com', 'my-plain-api-token');
        CREATE TABLE docs (id int PRIMARY KEY, user_id uuid REFERENCES users, body text);
        CREATE TABLE notes (id int, owner_id uuid);
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE TABLE posts (id int, user_id uuid);
        ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON posts USING (user_id = current_setting('app.user_id')::uuid);
        CREATE TABLE memo (note text);
        CREATE POLICY non_empty ON memo USING (note <> '');
        CREATE VIEW posts_view AS SELECT * FROM posts;
        CREATE TABLE items (id int);
        CREATE FUNCTION definer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        CREATE TABLE "odd ""name""" (id int);
        GRANT TRUNCATE ON "odd ""name""" TO "{app}";
        CREATE TABLE app_owned (id int);
        ALTER TABLE app_owned OWNER TO "{app}";
        ''',
        db,
    )


def test_each_check_fires_and_fix_apply_turns_every_fixable_one_ok(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl, roles: list[str]
) -> None:
    db = fresh_db.database or ""
    app, priv = unique("aud_app"), unique("aud_priv")
    roles += [app, priv]
    _failing_database(pg_server, db, app, priv)
    env = {"DBADMIN_APP_ROLE": app}
    doc = audit(cli, fresh_db, env=env)
    got = statuses(doc)
    assert all(got[name] in {"WARNING", "CRITICAL"} for name in CHECK_NAMES), got
    assert doc["exit_code"] == 2 and doc["app_role"] == app
    # the embedded server has no TLS; a TCP session another test left open on the shared server
    # may be listed too ("pid N"), and is right to be
    tls = objects(doc, "tls")
    assert "server" in tls and all(o.startswith("pid ") for o in tls - {"server"}), tls
    assert objects(doc, "password_encryption") == {"password_encryption"}
    assert f"role {priv}" in objects(doc, "privileged_roles")
    assert {"public.app_owned", 'public.odd "name"', f"role {app}"} <= objects(
        doc, "app_role_privileges"
    )
    assert objects(doc, "public_schema_create") == {"schema public"}
    grants = objects(doc, "public_grants")
    assert "public.definer()" in grants and any(g.startswith("default privileges") for g in grants)
    assert objects(doc, "rls_user_tables") == {"public.docs", "public.notes"}
    assert objects(doc, "rls_policies") == {
        "public.posts policy own",
        "public.memo policy non_empty",
    }
    assert objects(doc, "security_definer_search_path") == {"public.definer()"}
    assert objects(doc, "security_definer_views") == {"public.posts_view"}
    assert objects(doc, "extensions") == {"extension citext"}
    assert objects(doc, "sensitive_columns") == {"public.users.api_token"}
    assert doc["checks"]["tls"]["fixable"] is False
    assert doc["checks"]["sensitive_columns"]["fixable"] is False

    # --fix prints the script and changes nothing
    res = cli("audit", "-d", fresh_db.render(), "--allow-role", PASSWORD_ROLE, "--fix", env=env)
    assert res.exit_code == 2, res.stderr
    script = res.stdout
    assert script.splitlines()[2] == "BEGIN;" and script.rstrip().endswith("COMMIT;")
    for statement in (
        'ALTER TABLE "public"."docs" ENABLE ROW LEVEL SECURITY',
        'CREATE POLICY "docs_user_isolation" ON "public"."docs" AS PERMISSIVE FOR ALL TO '
        f'"{app}" USING ("user_id" = (SELECT NULLIF(current_setting(\'app.user_id\', true), '
        "'')::uuid))",
        'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC',
        f'REVOKE TRUNCATE, REFERENCES, TRIGGER ON TABLE "public"."odd ""name""" FROM "{app}"',
        'ALTER FUNCTION "public"."definer"() SET search_path = pg_catalog, "public", pg_temp',
        'ALTER VIEW "public"."posts_view" SET (security_invoker = true)',
        'ALTER EXTENSION "citext" UPDATE',
        f'ALTER ROLE "{priv}" NOCREATEDB',
        'ALTER POLICY "own" ON "public"."posts" USING ((user_id = ((SELECT current_setting(',
    ):
        assert statement in script, statement
    assert 'ALTER EXTENSION "citext" UPDATE;\n' in script  # statements end with ;
    assert statuses(audit(cli, fresh_db, env=env)) == got  # nothing was changed

    # --apply --yes runs it in one transaction and reports the re-run
    res = cli(
        "audit", "-d", fresh_db.render(), "--allow-role", PASSWORD_ROLE, "--fix", "--apply",
        "--yes", "--json", env=env,
    )  # fmt: skip
    after = res.json()
    assert isinstance(after, dict) and after["applied"] > 20, res.stderr
    assert "applied" in res.stderr and "BEGIN;" in res.stderr
    for name in FIXABLE:
        assert after["checks"][name]["status"] == "OK", (name, after["checks"][name])
    assert (
        statuses(after)["tls"] == "CRITICAL" and statuses(after)["sensitive_columns"] == "WARNING"
    )
    # and a plain re-run agrees
    assert statuses(audit(cli, fresh_db, env=env)) == statuses(after)


def test_findings_a_person_must_decide_fire_without_fix(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl
) -> None:
    """USING (true), two permissive policies for one action, RLS on without any policy on a
    table that is not per-user, clear-text secrets (--sample reads them, never shows them)."""
    db = fresh_db.database or ""
    pg_server.execute(
        f"""
        CREATE TABLE open_data (id int, label text);
        ALTER TABLE open_data ENABLE ROW LEVEL SECURITY;
        CREATE POLICY everyone ON open_data FOR SELECT USING (true);
        CREATE POLICY also_everyone ON open_data FOR SELECT USING (id > 0);
        CREATE TABLE locked (id int);
        ALTER TABLE locked ENABLE ROW LEVEL SECURITY;
        CREATE TABLE accounts (id int, password text, reset_token varchar(80),
                               tokens_used int, password_hash text);
        INSERT INTO accounts VALUES
            (1, 'hunter2', 'c2VjcmV0LXJlc2V0LXRva2VuLWZvci11c2VyLTE3', 5, '{BCRYPT}'),
            (2, '{BCRYPT}', 'a3f9c2e1b7d44c0e9f1a6b2d8e5c7f30a3f9c2e1b7d44c0e', 0, '{BCRYPT}');
        CREATE TABLE partners (api_key text);
        INSERT INTO partners SELECT 'key-' || g FROM generate_series(1, 150) g;
        """,
        db,
    )
    args = ("--check", "rls_policies,sensitive_columns")
    doc = audit(cli, fresh_db, *args)
    findings = {f["message"].split(":")[0]: f for f in doc["checks"]["rls_policies"]["findings"]}
    assert any(m.startswith("USING (true)") for m in findings)
    assert any(m.startswith("2 permissive SELECT policies for public") for m in findings)
    assert any(f["object"] == "public.locked" for f in findings.values())
    assert doc["checks"]["rls_policies"]["status"] == "WARNING"
    assert not any(f["fix"] for f in findings.values())
    assert objects(doc, "sensitive_columns") == {
        "public.accounts.password",
        "public.accounts.reset_token",
        "public.partners.api_key",
    }
    assert doc["checks"]["sensitive_columns"]["status"] == "WARNING"

    res = cli("audit", "-d", fresh_db.render(), "--json", "--sample", *args)
    sampled = res.json()["checks"]["sensitive_columns"]  # type: ignore[index]
    assert sampled["status"] == "CRITICAL"
    assert [(f["object"], f["message"]) for f in sampled["findings"]] == [
        ("public.accounts.password", "1 of 2 sampled values do not look hashed or encrypted"),
        # at most 100 values are read
        ("public.partners.api_key", "100 of 100 sampled values do not look hashed or encrypted"),
    ]
    assert "hunter2" not in res.stdout + res.stderr
    res = cli("audit", "-d", fresh_db.render(), "--fix", "--apply", "--yes", *args)
    assert res.exit_code == 1 and "nothing to apply" in res.stderr


def test_policy_wrapping_and_secret_shapes() -> None:
    expr = "(user_id = (current_setting('app.user_id'::text))::uuid)"
    assert unwrapped_calls(expr) and not unwrapped_calls(wrap_calls(expr))
    assert wrap_calls(expr) == ("(user_id = ((SELECT current_setting('app.user_id'::text)))::uuid)")
    wrapped = "(user_id = ( SELECT (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid AS \"nullif\"))"
    assert unwrapped_calls(wrapped) == [] and unwrapped_calls(None) == []
    assert unwrapped_calls("owner = auth.uid()") == [(8, 18)]
    for value in (BCRYPT, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "a" * 64, "\\x0a1b"):
        assert looks_protected(value), value
    for value in ("hunter2", "correct horse battery staple", "sk_live_aaaaaaaaaaaaaaaaaaaaaaaa"):
        assert not looks_protected(value), value


# --- row-level security of the migrated app schema ----------------------------------------------
def test_app_role_sees_only_its_users_rows(pg_server: PgServer, app_db: DbUrl) -> None:
    db = app_db.database or ""
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    pg_server.execute(
        f"""
        INSERT INTO users (id, email, password_hash) VALUES
            ('{a}', 'a@example.com', '{BCRYPT}'), ('{b}', 'b@example.com', '{BCRYPT}');
        INSERT INTO tasks (user_id, title) VALUES ('{a}', 'a1'), ('{a}', 'a2'), ('{b}', 'b1');
        INSERT INTO conversations (session_id, user_id) VALUES
            (gen_random_uuid(), '{a}'), (gen_random_uuid(), '{b}');
        INSERT INTO messages (conversation_id, user_id, role, content)
            SELECT c.id, c.user_id, 'user', 'question of ' || u.email
            FROM conversations c JOIN users u ON u.id = c.user_id;
        INSERT INTO messages (conversation_id, user_id, role, content)
            SELECT c.id, NULL, 'assistant', 'answer for ' || u.email
            FROM conversations c JOIN users u ON u.id = c.user_id;
        """,
        db,
    )
    # a real login as the application role (the socket trusts it; it has no password)
    conn = psycopg2.connect(**dataclasses.replace(app_db, user="app_user").connect_kwargs())
    try:
        with conn.cursor() as cur:

            def as_user(user: str | None, sql: str) -> list[tuple]:
                cur.execute("BEGIN")
                if user is not None:
                    cur.execute("SELECT set_config('app.user_id', %s, true)", (user,))
                cur.execute(sql)
                rows = cur.fetchall()
                cur.execute("COMMIT")
                return rows

            assert as_user(a, "SELECT title FROM tasks ORDER BY title") == [("a1",), ("a2",)]
            assert as_user(a, f"SELECT count(*) FROM tasks WHERE user_id = '{b}'") == [(0,)]
            assert as_user(a, "SELECT content FROM messages ORDER BY content") == [
                ("answer for a@example.com",),
                ("question of a@example.com",),
            ]
            assert as_user(b, "SELECT title FROM tasks") == [("b1",)]
            assert as_user(b, "SELECT count(*) FROM conversations") == [(1,)]
            # no user set (a pooled connection before set_config): nothing at all
            assert as_user(None, "SELECT count(*) FROM tasks") == [(0,)]
            assert as_user(None, "SELECT count(*) FROM messages") == [(0,)]
            # the setting is transaction-scoped: gone after COMMIT
            assert as_user(None, "SELECT current_setting('app.user_id', true)") in (
                [(None,)],
                [("",)],
            )
            # A cannot write a row for B, nor change B's rows
            cur.execute("BEGIN")
            cur.execute("SELECT set_config('app.user_id', %s, true)", (a,))
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("INSERT INTO tasks (user_id, title) VALUES (%s, 'forged')", (b,))
            cur.execute("ROLLBACK")
            cur.execute("BEGIN")
            cur.execute("SELECT set_config('app.user_id', %s, true)", (a,))
            cur.execute("UPDATE tasks SET title = 'hijacked' WHERE user_id = %s", (b,))
            assert cur.rowcount == 0
            cur.execute("COMMIT")
            # and it cannot change the schema
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("ALTER TABLE tasks DISABLE ROW LEVEL SECURITY")
            cur.execute("ROLLBACK")
    finally:
        conn.close()
    assert pg_server.execute(f"SELECT title FROM tasks WHERE user_id = '{b}'", db) == [("b1",)]


# --- a Neon-like owner: not a superuser, CREATEDB CREATEROLE, owns the database ----------------
def test_plain_owner_role_migrates_seeds_audits_backs_up_and_restores(
    cli: Cli, pg_server: PgServer, roles: list[str], tmp_path: Path
) -> None:
    owner, app = unique("aud_owner"), unique("aud_app")
    pg_server.execute(f'CREATE ROLE "{owner}" LOGIN CREATEDB CREATEROLE')
    roles += [owner, app]
    source, restored = unique("t_owner"), unique("t_restored")
    pg_server.execute(f'CREATE DATABASE "{source}" OWNER "{owner}" TEMPLATE template0')
    env = {"DBADMIN_APP_ROLE": app}
    url = dataclasses.replace(pg_server.url(source), user=owner)
    target = dataclasses.replace(pg_server.url(restored), user=owner)
    try:
        _owner_round_trip(cli, pg_server, url, target, env, tmp_path)
        # down reverses it: no policy, no RLS, no grant, and the role it created is gone
        pg_server.drop_database(restored)
        res = cli("migrate", "down", "0001", "-d", url.render(), "--yes", env=env)
        assert res.exit_code == 0, res.stderr
        assert pg_server.execute("SELECT count(*) FROM pg_policy", source) == [(0,)]
        assert pg_server.execute("SELECT count(*) FROM pg_class WHERE relrowsecurity", source) == [
            (0,)
        ]
        assert pg_server.execute(f"SELECT count(*) FROM pg_roles WHERE rolname = '{app}'") == [(0,)]
    finally:
        pg_server.drop_database(restored)
        pg_server.drop_database(source)


def _owner_round_trip(
    cli: Cli, pg_server: PgServer, url: DbUrl, target: DbUrl, env: dict[str, str], tmp_path: Path
) -> None:
    source, owner, app = url.database or "", url.user, env["DBADMIN_APP_ROLE"]
    res = cli("migrate", "up", "-d", url.render(), env=env)
    assert res.exit_code == 0, res.stderr
    # the owner created the application role (it has CREATEROLE), as the revision says
    assert pg_server.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, shobj_description(oid, 'pg_authid') "
        f"FROM pg_roles WHERE rolname = '{app}'"
    ) == [(True, False, False, "dbadmin: application role created by migration 0002")]
    res = cli("seed", "-d", url.render(), "--profile", "dev", "--scale", "0.01", env=env)
    assert res.exit_code == 0, res.stderr
    # a table the owner may not read: sampling it needs more rights than the owner has
    pg_server.execute(
        "CREATE TABLE admin_keys (api_key text); REVOKE ALL ON admin_keys FROM PUBLIC", source
    )
    pg_server.execute("INSERT INTO admin_keys VALUES ('plain-key')", source)

    doc = audit(cli, url, "--sample", env=env)
    assert doc["role"] == owner and doc["error"] is None
    got = statuses(doc)
    assert got["tls"] == "CRITICAL", doc["checks"]["tls"]  # the embedded server has no TLS
    assert got["sensitive_columns"] == "UNKNOWN"
    (finding,) = doc["checks"]["sensitive_columns"]["findings"]
    assert finding["object"] == "public.admin_keys.api_key"
    assert "permission denied" in finding["message"]
    others = {k: v for k, v in got.items() if k not in {"tls", "sensitive_columns"}}
    assert set(others.values()) == {"OK"}, doc["summary"]
    assert "stored hashes not readable" in doc["checks"]["password_encryption"]["summary"]
    pg_server.execute("DROP TABLE admin_keys", source)

    # pg_dump and pg_restore as the owner, with row-level security on
    backups = tmp_path / "bk"
    res = cli("backup", "-d", url.render(), "--dir", str(backups), "--json", env=env)
    assert res.exit_code == 0, res.stderr
    made = res.json()
    counts = made["manifest"]["row_counts"]  # type: ignore[index]
    assert counts["public.tasks"] > 0 and counts["public.messages"] > 0
    res = cli(
        "restore", made["name"], "--dir", str(backups), "-d", url.render(),  # type: ignore[index]
        "--target-url", target.render(), "--create", "--yes", "--json", env=env,
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert res.json()["ok"] is True and res.json()["row_counts"] == counts  # type: ignore[index]
    assert statuses(audit(cli, target, "--skip", "tls", env=env)) == {
        name: "OK" for name in CHECK_NAMES if name != "tls"
    }
    # seeding again works on the restored copy too
    res = cli("seed", "-d", target.render(), "--profile", "minimal", env=env)
    assert res.exit_code == 0, res.stderr


# --- health's output contract ------------------------------------------------------------------
def test_output_contract_json_nagios_check_skip_and_exit_codes(
    cli: Cli, pg_server: PgServer, app_db: DbUrl
) -> None:
    url = pg_server.password_url(app_db.database or "").render()  # a password login
    allow = ("--allow-role", PASSWORD_ROLE)
    res = cli(
        "audit", "-d", url, "--json", *allow, "--check", "extensions,rls_policies", "-c", "tls"
    )
    doc = res.json()
    assert isinstance(doc, dict) and res.exit_code == 2 and doc["exit_code"] == 2
    assert set(doc) == {
        "status", "exit_code", "summary", "target", "server_version", "role", "app_role",
        "elapsed_ms", "error", "applied", "checks",
    }  # fmt: skip
    assert list(doc["checks"]) == ["tls", "rls_policies", "extensions"]  # registry order
    assert set(doc["checks"]["tls"]) == {
        "status", "summary", "advice", "fixable", "findings", "elapsed_ms"
    }  # fmt: skip
    assert set(doc["checks"]["tls"]["findings"][0]) == {
        "status",
        "object",
        "message",
        "fix",
        "note",
    }
    assert doc["summary"].startswith("tls CRITICAL (server: ssl is off")
    assert PASSWORD not in res.stdout + res.stderr

    res = cli("audit", "-d", url, "--nagios", *allow, "--skip", "tls")
    assert res.exit_code == 0 and res.stderr == ""
    assert res.stdout == "DBADMIN AUDIT OK: 11 of 11 checks OK | findings=0;;;0\n"
    res = cli("audit", "-d", url, "--nagios", "--check", "tls")
    assert res.exit_code == 2 and res.stdout.startswith("DBADMIN AUDIT CRITICAL: tls CRITICAL")
    res = cli("audit", "-d", url, "--check", "rls_user_tables")
    assert res.exit_code == 0 and "rls_user_tables │ OK" in res.stdout
    strict = audit(cli, app_db, "--check", "privileged_roles", "--strict")
    expiring = {
        f["object"]: f for f in strict["checks"]["privileged_roles"]["findings"]
    }  # login roles without VALID UNTIL, app_user among them
    assert strict["status"] == "WARNING" and "role app_user" in expiring
    assert expiring["role app_user"]["message"] == "its password never expires (--strict)"
    assert expiring["role app_user"]["fix"][0].startswith('ALTER ROLE "app_user" VALID UNTIL')
    res = cli("audit", "-d", url, "--check", "rls_user_tables", "--fix")
    assert res.exit_code == 0 and res.stdout.endswith("-- nothing to fix\n")

    # whatever keeps the checks from being judged is 3 UNKNOWN
    for args, message in (
        (("--check", "nosuch"), "--check 'nosuch': unknown check"),
        (("--skip", ",".join(CHECK_NAMES)), "no checks left to run"),
        (("--json", "--nagios"), "--json and --nagios cannot be combined"),
        (("--timeout", "soon"), "--timeout 'soon' is not a duration"),
        (("--bogus",), "No such option"),
    ):
        res = cli("audit", "-d", url, *args)
        assert res.exit_code == 3 and message in res.stderr, (args, res.stderr)
    res = cli("audit", "-d", url, "--nagios", "--check", "nosuch")
    assert res.exit_code == 3 and res.stdout.startswith("DBADMIN UNKNOWN: --check 'nosuch'")
    down = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    res = cli("audit", "-d", down, "--json", "--timeout", "3s")
    doc = res.json()
    assert res.exit_code == 3 and doc["status"] == "UNKNOWN" and doc["error"]  # type: ignore[index]
    assert {c["status"] for c in doc["checks"].values()} == {"UNKNOWN"}  # type: ignore[index]


def test_apply_needs_yes_off_a_terminal_and_changes_nothing(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl
) -> None:
    pg_server.execute("GRANT CREATE ON SCHEMA public TO PUBLIC", fresh_db.database or "")
    args = ("audit", "-d", fresh_db.render(), "--check", "public_schema_create")
    res = cli(*args, "--apply")
    assert res.exit_code == 3 and "pass --yes to confirm" in res.stderr
    assert cli(*args).exit_code == 2  # still there
    res = cli(*args, "--apply", "--yes")
    assert res.exit_code == 0 and "public_schema_create │ OK" in res.stdout


def test_tls_is_ok_over_tls_and_the_url_must_not_allow_plaintext(
    cli: Cli, tls_server: PgServer
) -> None:
    ca = tls_server.ca_file  # type: ignore[attr-defined]
    url = tls_server.password_url().with_query(sslmode="verify-full", sslrootcert=str(ca))
    url = dataclasses.replace(url, host="localhost")
    res = cli("audit", "-d", url.render(), "--json", "--check", "tls")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["checks"]["tls"]["summary"].startswith("ssl on, TLSv1.2+")  # type: ignore[index]
    # a remote URL with sslmode=prefer may fall back to plaintext: WARNING (the session is TLS)
    remote = dataclasses.replace(tls_server.password_url(), host="db.example.test")
    prefer = remote.with_query(sslmode="prefer", hostaddr="127.0.0.1")
    res = cli("audit", "-d", prefer.render(), "--json", "--check", "tls")
    findings = res.json()["checks"]["tls"]["findings"]  # type: ignore[index]
    assert res.exit_code == 1 and [f["object"] for f in findings] == ["DATABASE_URL"], res.stderr
    assert "sslmode=prefer" in findings[0]["message"]


def test_owner_without_createrole_migrates_and_the_audit_asks_for_the_role(
    cli: Cli, pg_server: PgServer, roles: list[str]
) -> None:
    owner, app = unique("aud_owner"), unique("aud_app")
    pg_server.execute(f'CREATE ROLE "{owner}" LOGIN CREATEDB')
    roles += [owner, app]
    db = unique("t_nocreaterole")
    pg_server.execute(f'CREATE DATABASE "{db}" OWNER "{owner}" TEMPLATE template0')
    env = {"DBADMIN_APP_ROLE": app}
    url = dataclasses.replace(pg_server.url(db), user=owner)
    try:
        res = cli("migrate", "up", "-d", url.render(), env=env)
        assert res.exit_code == 0, res.stderr
        assert f"application role {app} not created: the migrating role lacks CREATEROLE" in (
            res.stderr
        )
        assert pg_server.execute(f"SELECT count(*) FROM pg_roles WHERE rolname = '{app}'") == [(0,)]
        assert pg_server.execute("SELECT count(*) FROM pg_policy WHERE polroles = '{0}'", db) == [
            (5,)
        ]  # the policies apply to PUBLIC meanwhile
        doc = audit(cli, url, "--skip", "tls", env=env)
        assert {k: v for k, v in statuses(doc).items() if v != "OK"} == {
            "app_role_privileges": "WARNING"
        }
        assert doc["checks"]["app_role_privileges"]["findings"][0]["fix"][0] == (
            f'CREATE ROLE "{app}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS'
        )
        # a role that may create roles applies the role pair; the audit is then clean
        admin = pg_server.url(db).render()
        res = cli("audit", "-d", admin, "--skip", "tls", "--allow-role", PASSWORD_ROLE, "--fix",
                  "--apply", "--yes", "--json", env=env)  # fmt: skip
        assert res.exit_code == 0, res.stdout + res.stderr
        assert res.json()["applied"] > 5  # type: ignore[index]
    finally:
        pg_server.drop_database(db)


def test_a_failing_fix_statement_rolls_back_every_other(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl, roles: list[str]
) -> None:
    plain = unique("aud_plain")
    pg_server.execute(f'CREATE ROLE "{plain}" LOGIN')
    roles.append(plain)
    db = fresh_db.database or ""
    pg_server.execute(
        f"""
        CREATE TABLE shared (id int);
        ALTER TABLE shared OWNER TO "{plain}";
        GRANT SELECT ON shared TO PUBLIC;
        CREATE FUNCTION definer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        REVOKE EXECUTE ON FUNCTION definer() FROM PUBLIC;
        """,
        db,
    )
    url = dataclasses.replace(fresh_db, user=plain).render()
    args = ("--check", "public_grants,security_definer_search_path")
    res = cli("audit", "-d", url, *args, "--fix", "--apply", "--yes")
    assert res.exit_code == 3, res.stdout + res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "dbadmin: error: fix for security_definer_search_path (public.definer()) failed, nothing "
        "was changed: must be owner of function "
    ), last
    assert '; failing statement: ALTER FUNCTION "public"."definer"() SET search_path' in last
    # the REVOKE that ran before it was rolled back with it
    assert pg_server.execute("SELECT has_table_privilege('public', 'shared', 'SELECT')", db) == [
        (True,)
    ]


def test_rls_fix_alone_without_the_app_role_applies_to_public(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl
) -> None:
    """Run without app_role_privileges (whose role pair would create the role first), the
    policy template names PUBLIC, so the script still runs."""
    pg_server.execute("CREATE TABLE docs (id int, owner_id bigint)", fresh_db.database or "")
    env = {"DBADMIN_APP_ROLE": unique("aud_missing")}
    args = ("audit", "-d", fresh_db.render(), "--check", "rls_user_tables")
    res = cli(*args, "--fix", env=env)
    assert res.exit_code == 2 and "FOR ALL TO PUBLIC USING" in res.stdout
    assert "(SELECT NULLIF(current_setting('app.user_id', true), '')::bigint)" in res.stdout
    res = cli(*args, "--fix", "--apply", "--yes", env=env)
    assert res.exit_code == 0, res.stdout + res.stderr


def test_unforced_rls_is_a_finding_only_when_the_application_owns_the_table(
    cli: Cli, pg_server: PgServer, fresh_db: DbUrl, roles: list[str]
) -> None:
    app = unique("aud_app")
    pg_server.execute(f'CREATE ROLE "{app}" LOGIN')
    roles.append(app)
    pg_server.execute(
        f"""
        CREATE TABLE notes (id int, user_id uuid);
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON notes USING (user_id = (SELECT current_setting('app.user_id')::uuid));
        ALTER TABLE notes OWNER TO "{app}";
        """,
        fresh_db.database or "",
    )
    args = ("audit", "-d", fresh_db.render(), "--check", "rls_user_tables", "--json")
    doc = cli(*args, env={"DBADMIN_APP_ROLE": app}).json()
    (finding,) = doc["checks"]["rls_user_tables"]["findings"]  # type: ignore[index]
    assert finding["status"] == "WARNING" and "not forced" in finding["message"]
    assert finding["fix"] == ['ALTER TABLE "public"."notes" FORCE ROW LEVEL SECURITY']
    # a separate application role that does not own it: unforced RLS is right
    assert cli(*args, env={"DBADMIN_APP_ROLE": "app_user"}).exit_code == 0
    res = cli(*args, "--fix", "--apply", "--yes", env={"DBADMIN_APP_ROLE": app})
    assert res.exit_code == 0 and res.json()["applied"] == 1, res.stderr  # type: ignore[index]
