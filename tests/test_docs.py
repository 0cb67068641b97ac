"""The documentation is tested like code (issue 18).

- every command documents itself: `--help` has an example, and the docs page of its group
  mentions it; the README names every command group and stays under 12 KB;
- docs/cli.md is exactly what ``python -m dbadmin.cli.docgen`` generates from every `--help`;
- every shell example in README.md, docs/ and bench/README.md that starts a `dbadmin` command
  runs, as written, against the test server (SKIPPED lists the few that cannot, with the reason);
- every relative link and #anchor in them resolves inside the repository.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from dbadmin.cli import SHORT_HELP_LIMIT, app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
README_LIMIT = 12 * 1024


def _commands() -> list[tuple[str, object]]:
    """Every command path, through list_commands/get_command (the root group loads lazily)."""
    root = typer.main.get_command(app)
    found: list[tuple[str, object]] = []

    def walk(prefix: str, command: object, parent: typer.Context | None) -> None:
        if isinstance(command, TyperGroup):
            ctx = typer.Context(
                command, parent=parent, info_name=prefix.rsplit(" ", 1)[-1] or "dbadmin"
            )
            for name in command.list_commands(ctx):
                walk(f"{prefix} {name}".strip(), command.get_command(ctx, name), ctx)
            if prefix:
                found.append((prefix, command))
        else:
            found.append((prefix, command))

    walk("", root, None)
    return found


COMMANDS = _commands()

# The docs page of each command group (docs/cli.md has every command too, but it is generated).
GROUP_PAGES = {
    "local": "docs/local.md",
    "doctor": "docs/doctor.md",
    "schema": "docs/schema.md",
    "migrate": "docs/migrate.md",
    "seed": "docs/seed.md",
    "explain": "docs/explain.md",
    "slow-queries": "docs/slowlog.md",
    "backup": "docs/backup.md",
    "restore": "docs/backup.md",
    "health": "docs/health.md",
    "audit": "docs/audit.md",
}


def test_every_group_is_listed_in_order(cli) -> None:  # type: ignore[no-untyped-def]
    """`dbadmin --help` lists every command group of the product, in COMMAND_ORDER."""
    from dbadmin.cli import COMMAND_ORDER

    names = {name.split()[0] for name, _ in COMMANDS}
    assert names == set(COMMAND_ORDER) == set(GROUP_PAGES)
    lines = cli("--help").stdout.split("Commands:", 1)[1].splitlines()
    listed = [line.split()[0] for line in lines if line.startswith("  ") and line.split()]
    listed = [word for word in listed if word in COMMAND_ORDER]
    assert listed == list(COMMAND_ORDER)


def test_listing_short_helps_are_the_commands_own() -> None:
    """The root listing comes from the table in dbadmin/cli/__init__.py (no group is imported):
    each line is the loaded command's short help, cut as click cuts it at every width."""
    from dbadmin.cli import _COMMANDS

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    ctx = typer.Context(root, info_name="dbadmin")
    for name, entry in _COMMANDS.items():
        command = root.get_command(ctx, name)
        assert command is not None and not command.hidden, name
        assert entry.short_help == command.get_short_help_str(SHORT_HELP_LIMIT), name
    longest = max(len(name) for name in _COMMANDS)
    for width in range(longest + 7, longest + 7 + SHORT_HELP_LIMIT):  # listing limits 1..LIMIT
        wide = typer.Context(root, info_name="dbadmin", terminal_width=width)
        ours, clicks = wide.make_formatter(), wide.make_formatter()
        root.format_commands(wide, ours)
        TyperGroup.format_commands(root, wide, clicks)  # from the loaded commands
        assert ours.getvalue() == clicks.getvalue(), width


def test_root_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from dbadmin.cli import app\n"
        "from typer.testing import CliRunner\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('dbadmin.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['dbadmin.cli.common']"


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_help_has_an_example_and_the_docs_mention_it(name: str, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(*name.split(), "--help")
    assert res.exit_code == 0, res.stderr
    assert "Example" in res.stdout, f"`dbadmin {name} --help` has no example"
    group = name.split()[0]
    page = GROUP_PAGES[group]
    assert f"dbadmin {name}" in (ROOT / page).read_text(), (
        f"{page} does not mention `dbadmin {name}`"
    )
    assert f"dbadmin {group}" in README, f"README does not mention `dbadmin {group}`"


def test_ci_runs_exactly_the_readme_test_line() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    test_line = ci_lines[-1]  # the command CI runs last
    assert test_line == "bash scripts/test-all"
    assert f"```sh\n{test_line}\n```" in README
    script = (ROOT / "scripts" / "test-all").read_text()
    assert "-m pytest -q" in script and "DBADMIN_TEST_SERVER=" in script and " pg15 " in script
    for version in ("3.11", "3.12", "3.13", "3.14"):
        assert version in script


def test_classifiers_list_the_pythons_ci_tests() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tested = [
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert tested == ["3.11", "3.12", "3.13"]
    assert project["requires-python"] == ">=3.11"
    assert "3.11, 3.12, 3.13" in README


# --- the README is short; the reference is generated --------------------------------------------
def test_readme_is_at_most_12_kb() -> None:
    size = len(README.encode())
    assert size <= README_LIMIT, (
        f"README.md is {size} bytes (limit {README_LIMIT}): move details into docs/ and link them"
    )


def test_cli_reference_is_up_to_date() -> None:
    """docs/cli.md is the generator's output; DBADMIN_UPDATE_CLI_DOCS=1 rewrites it."""
    from dbadmin.cli import docgen

    page = ROOT / docgen.PAGE
    expected = docgen.render()
    if os.environ.get("DBADMIN_UPDATE_CLI_DOCS") == "1":
        page.write_text(expected)
    current = page.read_text() if page.exists() else ""
    diff = list(
        difflib.unified_diff(
            current.splitlines(), expected.splitlines(), "docs/cli.md", "--help", lineterm="", n=1
        )
    )
    assert not diff, (
        f"docs/cli.md is out of date: regenerate it with `{docgen.COMMAND}` from the repository "
        "root (or DBADMIN_UPDATE_CLI_DOCS=1 pytest tests/test_docs.py -k cli_reference)\n"
        + "\n".join(diff[:40])
    )


# --- the pages ------------------------------------------------------------------------------------
def doc_files() -> list[Path]:
    """README.md, every page under docs/ (the generated docs/schema/ too), bench/README.md."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [*files, ROOT / "bench" / "README.md"]


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string and its lines."""

    lang: str
    lines: tuple[str, ...]


def _blocks_and_prose(text: str) -> tuple[list[Block], list[str]]:
    """Fenced blocks, and the lines outside them (CommonMark fences of ``` or ~~~, any length)."""
    blocks: list[Block] = []
    prose: list[str] = []
    fence: str | None = None
    lang = ""
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence is None:
            match = re.match(r"(`{3,}|~{3,})\s*([^\s`]*)", stripped)
            if match:
                fence, lang, body = match.group(1), match.group(2).lower(), []
            else:
                prose.append(line)
        elif stripped.startswith(fence) and not stripped[len(fence) :].strip():
            blocks.append(Block(lang, tuple(body)))
            fence = None
        else:
            body.append(line)
    return blocks, prose


# --- links ----------------------------------------------------------------------------------------
def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _blocks_and_prose(path.read_text())[1]:
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(path: Path) -> list[str]:
    prose = "\n".join(_blocks_and_prose(path.read_text())[1])
    prose = re.sub(r"``[^`]+``|`[^`\n]+`", lambda m: "x" * len(m.group(0)), prose)
    return LINK.findall(prose)


def broken_links(pages: list[Path], root: Path) -> tuple[int, list[str]]:
    """How many relative links the pages have, and those that do not resolve (file or #anchor)."""
    broken: list[str] = []
    checked = 0
    for page in pages:
        for target in links(page):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            checked += 1
            where, _, anchor = target.partition("#")
            resolved = (page.parent / where).resolve() if where else page
            name = page.relative_to(root).as_posix()
            if not resolved.is_relative_to(root):
                broken.append(f"{name}: {target} points outside the repository")
            elif not resolved.exists():
                broken.append(f"{name}: {target} does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{name}: {target}: no heading #{anchor}")
    return checked, broken


def test_every_relative_link_resolves() -> None:
    """Files and #anchors, and nothing outside the repository (the design is docs/architecture.md)."""
    checked, broken = broken_links(doc_files(), ROOT)
    assert checked > 100
    assert not broken, "\n".join(broken)


def test_the_link_checker_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "a.md"
    (tmp_path / "docs" / "b.md").write_text("# B title\n\n## `dbadmin restore`\n")
    page.write_text(
        "[ok](b.md#b-title) [ok](b.md#dbadmin-restore) [ok](#a) [gone](c.md) [anchor](b.md#nope)\n"
        "[out](../../shared/DESIGN.md) [web](https://example.com) `[code](nope.md)`\n"
        "```sh\n[block](nope.md)\n```\n# A\n"
    )
    checked, broken = broken_links([page], tmp_path)
    assert checked == 6
    assert broken == [
        "docs/a.md: c.md does not exist",
        "docs/a.md: b.md#nope: no heading #nope",
        "docs/a.md: ../../shared/DESIGN.md points outside the repository",
    ]
    assert slug("Plan formats (`--plan FILE|-`)") == "plan-formats---plan-file-"


# --- examples -------------------------------------------------------------------------------------
SHELL_LANGS = {"sh", "bash", "shell", "console"}
RUNS_DBADMIN = re.compile(r"(^|[\s|&;(])dbadmin(\s|$)")

# Examples the test machine cannot run: (page, the example exactly as written, why). Each must
# still be in its page (test_skipped_examples_exist), so the list cannot rot silently.
S3 = "needs an S3 bucket and AWS credentials (tests/test_backup_store*.py run them on moto)"
SKIPPED: list[tuple[str, str, str]] = [
    (
        "README.md",
        "dbadmin doctor            # URL in use, server, TLS, endpoint kind, pg_dump choice, revision",
        "needs your own server (db.example.com)",
    ),
    (
        "docs/neon.md",
        "dbadmin doctor          # endpoint neon-pooled; migrations and backups will use the direct host",
        "needs a Neon project",
    ),
    (
        "docs/migrate.md",
        'dbadmin migrate new "add tasks.tags" --autogenerate  # then edit, then:',
        "writes a revision into the checkout's migrations/versions",
    ),
    (
        "docs/migrate.md",
        "DBADMIN_MODELS=myapp.models:Base dbadmin migrate check --config myapp/alembic.ini",
        "needs your own models package and alembic.ini",
    ),
    (
        "docs/seed.md",
        "dbadmin seed --profile load --rows messages=1000000 --reset --yes   # a load test's worth",
        "a million rows take minutes (bench/seed.py measures it)",
    ),
    (
        "docs/seed.md",
        "dbadmin seed --from-database --rows rental=50000 --rows payment=200000",
        "needs the pagila sample schema",
    ),
    (
        "docs/seed.md",
        "dbadmin seed --from-database --schema sales --rows orders=1000000 --json",
        "needs a sales schema with an orders table",
    ),
    (
        "docs/seed.md",
        'dbadmin seed --from-database --like "$PROD_URL" --scale 0.1 --no-values',
        "needs a production database ($PROD_URL)",
    ),
    (
        "docs/explain.md",
        "dbadmin explain --plan plan.txt                         # a plan captured elsewhere (any format)",
        "needs a plan captured elsewhere (psql, auto_explain)",
    ),
    (
        "docs/slowlog.md",
        "dbadmin slow-queries log /var/log/postgresql/postgresql-16-main.log* --top 10 --html report.html",
        "needs the server's log files",
    ),
    (
        "docs/slowlog.md",
        "zcat old.log.gz | dbadmin slow-queries log - --prefix '%m [%p] %q%u@%d ' --json",
        "needs an old server log",
    ),
    (
        "docs/reliability.md",
        "timeout 60 dbadmin restore app-20261206T021500Z --target-url app_copy --create --yes",
        "needs a restore that outlasts 60 s",
    ),
    (
        "docs/schema-docs.md",
        "dbadmin schema docs --check              # after ALTER TABLE tasks ADD COLUMN estimate_minutes integer",
        "needs the ALTER TABLE of its comment between the two commands",
    ),
    (
        "docs/backup.md",
        "dbadmin backup verify --latest --restore-test",
        "starts a second embedded server in DBADMIN_HOME for its scratch database; "
        "tests/test_backup.py runs it (test_verify_restore_test_defaults_to_the_embedded_server, "
        "test_restore_test_creates_the_roles_the_backup_names_on_the_embedded_scratch_server)",
    ),
    ("docs/backups-offsite.md", "dbadmin backup --encrypt", S3),
    ("docs/backups-offsite.md", "dbadmin backup list", S3),
    ("docs/backups-offsite.md", "dbadmin backup verify --latest", S3),
    ("docs/backups-offsite.md", "dbadmin backup prune --keep 7 --keep-days 30 --yes", S3),
    (
        "docs/backups-offsite.md",
        "dbadmin restore app-20261206T020000Z --target-url app_copy --create",
        S3,
    ),
]

# Examples whose documented outcome is not exit 0 (console samples say it with `$ echo $?`).
# The audit's tls check is CRITICAL (2) on the embedded server and on the test server (ssl off);
# the test server also has a second superuser login (conftest's dbadmin_pw).
AUDIT = "docs/audit.md"
EXIT_CODES: dict[tuple[str, str], int] = {
    (
        "README.md",
        "dbadmin audit                                # security audit; exit 2 on the embedded server: no TLS",
    ): 2,
    (AUDIT, "dbadmin audit --allow-role dbadmin_pw"): 2,
    (AUDIT, "dbadmin audit --fix"): 2,
    (
        AUDIT,
        "dbadmin audit                                        # table; exit code = worst status",
    ): 2,
    (AUDIT, "dbadmin audit --nagios --skip tls                    # one plugin line"): 2,
    (
        AUDIT,
        "dbadmin audit --sample                               # also read up to 100 values per secret column",
    ): 2,
    (
        AUDIT,
        "dbadmin audit --strict                               # also require password expiry",
    ): 2,
    (
        AUDIT,
        "dbadmin audit --fix > fix.sql                        # the fix script, to review; changes nothing",
    ): 2,
    (
        AUDIT,
        "dbadmin audit --fix --apply --yes                    # run it in one transaction, then audit again",
    ): 2,
    ("docs/cli-conventions.md", "dbadmin backup --format zip"): 2,  # shows the usage error
}

# Pages whose examples start from an empty database (they migrate it themselves); the others
# start from the app schema at head with the dev profile seeded, as after the quick start.
STARTS_EMPTY = {"README.md", "docs/migrate.md"}


@dataclass(frozen=True)
class Example:
    page: str
    command: str
    expected_exit: int  # for a setup line (no dbadmin in it): 0


def _commands_of(block: Block) -> list[tuple[str, int | None]]:
    """The commands of a shell block, with the exit code a console sample shows (`echo $?`)."""
    found: list[tuple[str, int | None]] = []
    lines = list(block.lines)
    if block.lang == "console":
        for i, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            command = line[2:].strip()
            if command == "echo $?":
                if found and i + 1 < len(lines) and lines[i + 1].strip().isdigit():
                    found[-1] = (found[-1][0], int(lines[i + 1].strip()))
                continue
            found.append((command, None))
        return found
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command and not command.startswith("#"):
            found.append((command, None))
    return found


def example_blocks(page: Path) -> list[list[Example]]:
    """The shell blocks of a page that run dbadmin, each as its list of commands."""
    name = relative(page)
    result = []
    for block in _blocks_and_prose(page.read_text())[0]:
        if block.lang not in SHELL_LANGS:
            continue
        commands = _commands_of(block)
        if not any(RUNS_DBADMIN.search(command) for command, _ in commands):
            continue
        result.append(
            [
                Example(
                    name,
                    command,
                    shown if shown is not None else EXIT_CODES.get((name, command), 0),
                )
                for command, shown in commands
            ]
        )
    return result


def _is_skipped(example: Example) -> bool:
    return any(page == example.page and command == example.command for page, command, _ in SKIPPED)


def _runs_something(page: Path) -> bool:
    return any(
        RUNS_DBADMIN.search(e.command) and not _is_skipped(e)
        for block in example_blocks(page)
        for e in block
    )


PAGES_WITH_EXAMPLES = [relative(p) for p in doc_files() if _runs_something(p)]


def test_skipped_examples_exist() -> None:
    """Every entry of SKIPPED and EXIT_CODES is an example of its page, word for word."""
    everything = {
        (relative(page), example.command)
        for page in doc_files()
        for block in example_blocks(page)
        for example in block
    }
    for page, command, reason in SKIPPED:
        assert reason and (page, command) in everything, f"{page}: no example {command!r}"
    for key in EXIT_CODES:
        assert key in everything, key
    assert len(SKIPPED) <= 20, "the skip-list is for what the test machine lacks, keep it short"
    assert len(PAGES_WITH_EXAMPLES) >= 12


def plain_argv(command: str) -> list[str] | None:
    """`dbadmin ARGS` with nothing for a shell to do (no pipe, redirection, variable, glob...):
    its arguments, run in-process (the same app, without a Python start-up each); else None."""
    unquoted = re.sub(r"'[^']*'|\"[^\"$`\\]*\"", "", command)
    if re.search(r"[$`\\*?\[\]{}~]", unquoted):
        return None
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    if not tokens or tokens[0] != "dbadmin" or any(set(t) <= set("();<>|&") for t in tokens):
        return None
    return tokens[1:]


@dataclass
class Outcome:
    exit_code: int | None
    stderr: str


def _run_block_in_bash(
    block: list[Example], out: Path, env: dict[str, str], cwd: Path
) -> list[Outcome]:
    """A block with shell syntax, in one bash (its `export`s and `cd`s hold for the block)."""
    lines = []  # a pipeline's status is its last command's, as the reader sees it
    for i, example in enumerate(block):
        lines.append(f"{{ {example.command}\n}} >{out}/{i}.out 2>{out}/{i}.err </dev/null")
        lines.append(f"echo $? >{out}/{i}.rc")
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", "\n".join(lines) + "\n"],
        cwd=cwd,
        env=env,
        timeout=180,
        check=False,
    )
    outcomes = []
    for i in range(len(block)):
        rc = out / f"{i}.rc"
        code = int(rc.read_text()) if rc.exists() else None
        outcomes.append(Outcome(code, (out / f"{i}.err").read_text() if rc.exists() else ""))
        for name in (f"{i}.rc", f"{i}.out", f"{i}.err"):
            (out / name).unlink(missing_ok=True)
    return outcomes


def run_page(page: str, cli, env: dict[str, str], cwd: Path, out: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Run a page's examples in order; the failures, each with the command's stderr."""
    failures: list[str] = []
    ran = 0
    for block in example_blocks(ROOT / page):
        todo = [e for e in block if not _is_skipped(e)]
        if not any(RUNS_DBADMIN.search(e.command) for e in todo):
            continue  # every dbadmin example of the block is skipped: so are its setup lines
        argvs = [plain_argv(e.command) for e in todo]
        if all(argv is not None for argv in argvs):
            outcomes = []
            for argv in argvs:
                assert argv is not None
                res = cli(*argv, env=env)
                outcomes.append(Outcome(res.exit_code, res.stderr))
        else:
            outcomes = _run_block_in_bash(todo, out, env, cwd)
        ran += len(todo)
        for example, outcome in zip(todo, outcomes, strict=True):
            if outcome.exit_code != example.expected_exit:
                failures.append(
                    f"{page}: `{example.command}` exited {outcome.exit_code}, documented "
                    f"{example.expected_exit}\n{outcome.stderr[-1500:]}"
                )
    assert ran, f"{page}: every example is skipped"
    return failures


@pytest.fixture(scope="module")
def seeded_template(pg_server, app_template: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app schema at head with the dev profile seeded, as after the README's quick start."""
    from typer.testing import CliRunner

    name = pg_server.create_database(template=app_template)
    res = CliRunner().invoke(app, ["-d", pg_server.url(name).render(), "seed"])
    assert res.exit_code == 0, res.stderr
    try:
        yield name
    finally:
        pg_server.drop_database(name)


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_examples_run_as_written(  # type: ignore[no-untyped-def]
    page: str, pg_server, seeded_template, cli, tmp_path: Path, monkeypatch
) -> None:
    """Each page's examples, in order, in one database on the test server (DATABASE_URL), with a
    DBADMIN_HOME of their own: plain `dbadmin ...` lines in-process, others in bash with the
    installed `dbadmin` on PATH."""
    existing = {row[0] for row in pg_server.execute("SELECT datname FROM pg_database")}
    template = "template0" if page in STARTS_EMPTY else seeded_template
    url = pg_server.url(pg_server.create_database(template=template))
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    monkeypatch.chdir(work)
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": url.render(),
        "DBADMIN_HOME": str(tmp_path / "home"),
        "NO_COLOR": "1",
        "COLUMNS": "100",
    }
    try:
        failures = run_page(page, cli, {**os.environ, **env}, work, out)
        assert not failures, "\n".join(failures)
    finally:
        _stop_embedded(tmp_path / "home")
        for (name,) in pg_server.execute("SELECT datname FROM pg_database"):
            if name not in existing:
                pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _stop_embedded(home: Path) -> None:
    """An example may have started the embedded server in its DBADMIN_HOME: stop it."""
    if (home / "pgdata" / "postmaster.pid").exists():
        from dbadmin.local import embedded_cluster

        embedded_cluster(home).stop()


def test_example_parsing() -> None:
    block = Block("console", ("$ dbadmin x --flag", "output", "$ echo $?", "1", "$ dbadmin y"))
    assert _commands_of(block) == [("dbadmin x --flag", 1), ("dbadmin y", None)]
    block = Block("sh", ("# a comment", "dbadmin a \\", "  --b", "", "echo hi > f"))
    assert _commands_of(block) == [("dbadmin a    --b", None), ("echo hi > f", None)]
    assert RUNS_DBADMIN.search("x | dbadmin slow-queries log -")
    assert not RUNS_DBADMIN.search("cd /srv/app && .venv/bin/dbadmin backup")
    assert plain_argv('dbadmin explain "SELECT * FROM t" -p p=1  # a comment') == [
        "explain",
        "SELECT * FROM t",
        "-p",
        "p=1",
    ]
    for shell in ("dbadmin a > f", "dbadmin a | x", "dbadmin a && b", "dbadmin $X", "X=1 dbadmin"):
        assert plain_argv(shell) is None, shell
    assert plain_argv("dbadmin log /var/log/*.log") is None
