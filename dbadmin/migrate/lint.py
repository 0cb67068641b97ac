"""`migrate lint`: squawk (from the squawk-cli wheel) on the offline SQL of each revision.

Each revision's upgrade SQL is rendered offline, prefixed with the ``SET lock_timeout`` /
``SET statement_timeout`` dbadmin really runs it with, and checked by squawk. squawk reports every
rule as a warning; dbadmin decides which rules are errors (operations that lock or rewrite existing
tables, or break the running application) and exits 1 only on those.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.errors import ExternalToolError, UsageError
from dbadmin.migrate.runtime import timeout_sql

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from dbadmin.settings import Settings

ERROR_RULES = frozenset(
    {
        "adding-field-with-default",
        "adding-foreign-key-constraint",
        "adding-not-nullable-field",
        "adding-required-field",
        "adding-serial-primary-key-field",
        "ban-alter-domain-with-add-constraint",
        "ban-concurrent-index-creation-in-transaction",
        "ban-drop-column",
        "ban-drop-database",
        "ban-drop-not-null",
        "ban-drop-table",
        "ban-truncate-cascade",
        "changing-column-type",
        "constraint-missing-not-valid",
        "disallowed-unique-constraint",
        "renaming-column",
        "renaming-table",
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "transaction-nesting",
    }
)


@dataclass(frozen=True)
class LintFinding:
    revision: str
    filename: str
    line: int  # 1-based, in the rendered SQL of that revision
    rule: str
    level: str  # "error" | "warning"
    message: str
    help: str
    statement: str


@dataclass(frozen=True)
class LintResult:
    revisions: tuple[str, ...]
    findings: tuple[LintFinding, ...]
    squawk: str  # version line

    @property
    def errors(self) -> tuple[LintFinding, ...]:
        return tuple(f for f in self.findings if f.level == "error")


def squawk_binary(env: dict[str, str] | None = None) -> str:
    """$DBADMIN_SQUAWK, the squawk next to this Python (the squawk-cli wheel), or PATH."""
    env = env if env is not None else dict(os.environ)
    explicit = env.get("DBADMIN_SQUAWK")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file():
        return str(beside)
    found = shutil.which("squawk")
    if found:
        return found
    raise ExternalToolError(
        "squawk is not installed", "pip install squawk-cli (a dbadmin dependency)"
    )


def revisions_in(scripts: ScriptDirectory, spec: str) -> list[Script]:
    """``A:B`` = after A up to B; a single revision = just that one; oldest first."""
    from dbadmin.migrate.runner import resolve_revision

    start, sep, end = spec.partition(":")
    if not sep:
        resolve_revision(scripts, spec)
        return list(scripts.get_revisions(spec))
    for rev in (start, end):
        resolve_revision(scripts, rev)
    return list(reversed(list(scripts.iterate_revisions(end, start or "base"))))


def lint(
    settings: Settings,
    revisions: str | None = None,
    *,
    config_path: str | None = None,
    exclude: Iterable[str] = (),
    errors: Iterable[str] = (),
    warnings: Iterable[str] = (),
    squawk_config: str | None = None,
    pg_version: str | None = None,
    lock_timeout: float = 5.0,
    statement_timeout: float = 0.0,
) -> LintResult:
    """Lint ``revisions`` (a range), or the revisions pending on the database when None."""
    from dbadmin.migrate.inspect import offline_sql
    from dbadmin.migrate.runner import load_scripts

    _, scripts = load_scripts(settings, config_path)
    if revisions is None:
        scripts_to_lint, server_version = _pending_on_database(settings, scripts)
        pg_version = pg_version or server_version
    else:
        scripts_to_lint = revisions_in(scripts, revisions)
    error_rules = (ERROR_RULES | set(errors)) - set(warnings)
    binary = squawk_binary(dict(settings.env) | dict(os.environ))
    version = _squawk_version(binary)
    header = timeout_sql(int(lock_timeout * 1000), int(statement_timeout * 1000), local=False)
    findings: list[LintFinding] = []
    linted: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dbadmin-lint-") as tmp:
        for script in scripts_to_lint:
            down = script.down_revision
            if isinstance(down, (tuple, list)):
                continue  # a merge point has no DDL of its own
            spec = f"{down}:{script.revision}" if down else script.revision
            sql = f"{header};\n" + offline_sql(settings, spec, config_path=config_path)
            path = Path(tmp) / f"{script.revision}.sql"
            path.write_text(sql)
            linted.append(script.revision)
            for raw in _run_squawk(binary, path, exclude, squawk_config, pg_version):
                finding = _finding(script, sql, raw, error_rules)
                if finding is not None:
                    findings.append(finding)
    return LintResult(tuple(linted), tuple(findings), version)


def _pending_on_database(settings: Settings, scripts: ScriptDirectory) -> tuple[list[Script], str]:
    from sqlalchemy import text

    from dbadmin.db import connect
    from dbadmin.migrate.runner import current_heads, pending_revisions

    with connect(settings, direct=True) as conn:
        current = current_heads(conn)
        version = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
        conn.rollback()
    return pending_revisions(scripts, "heads", current), version


def _squawk_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise ExternalToolError(
            f"cannot run squawk ({binary}): {exc}", "pip install squawk-cli"
        ) from None
    if out.returncode != 0:
        raise ExternalToolError(
            f"squawk --version failed with exit code {out.returncode}: {out.stderr.strip()[:200]}",
            "reinstall squawk-cli",
        )
    return out.stdout.strip()


def _run_squawk(
    binary: str,
    path: Path,
    exclude: Iterable[str],
    config: str | None,
    pg_version: str | None,
) -> list[dict[str, Any]]:
    args = [binary, "--reporter", "json"]
    rules = [r for r in exclude if r]
    if rules:
        args.append("--exclude=" + ",".join(rules))
    if config:
        if not Path(config).is_file():
            raise UsageError(f"squawk config {config} not found", "fix --squawk-config")
        args += ["--config", config]
    if pg_version:
        args.append(f"--pg-version={pg_version}")
    args.append(str(path))
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExternalToolError(f"squawk failed to run: {exc}", "reinstall squawk-cli") from None
    try:
        doc = json.loads(out.stdout) if out.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    if out.returncode not in (0, 1) or not isinstance(doc, list):
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise ExternalToolError(
            f"squawk failed (exit code {out.returncode}): {detail[0][:200] if detail else 'no output'}",
            "run `squawk --version`; reinstall squawk-cli",
        )
    return doc


def _finding(
    script: Script, sql: str, raw: dict[str, Any], error_rules: set[str] | frozenset[str]
) -> LintFinding | None:
    lines = sql.splitlines()
    first = int(raw.get("line", 0))
    last = max(int(raw.get("line_end", first)), first)
    start = first
    while start > 0 and not lines[start - 1].rstrip().endswith(";"):
        start -= 1
    end = last
    while end < len(lines) - 1 and not lines[end].rstrip().endswith(";"):
        end += 1
    whole = " ".join(" ".join(lines[start : end + 1]).split())
    if "alembic_version" in whole:
        return None  # Alembic's bookkeeping, not the revision's DDL
    statement = " ".join(" ".join(lines[first : last + 1]).split()) or whole
    rule = str(raw.get("rule_name", "?"))
    return LintFinding(
        revision=script.revision,
        filename=Path(script.path).name,
        line=first + 1,
        rule=rule,
        level="error" if rule in error_rules else "warning",
        message=str(raw.get("message", "")),
        help=str(raw.get("help") or ""),
        statement=statement[:300],
    )
