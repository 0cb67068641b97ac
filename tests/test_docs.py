"""Every command documents itself: `--help` has an example, and the README mentions it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from dbadmin.cli import SHORT_HELP_LIMIT, app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


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


def test_every_group_is_listed_in_order(cli) -> None:  # type: ignore[no-untyped-def]
    """`dbadmin --help` lists every command group of the product, in COMMAND_ORDER."""
    from dbadmin.cli import COMMAND_ORDER

    names = {name.split()[0] for name, _ in COMMANDS}
    assert names == set(COMMAND_ORDER)
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
def test_help_has_an_example_and_readme_mentions_it(name: str, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(*name.split(), "--help")
    assert res.exit_code == 0, res.stderr
    assert "Example" in res.stdout, f"`dbadmin {name} --help` has no example"
    assert f"dbadmin {name}" in README, f"README does not mention `dbadmin {name}`"


def test_ci_runs_exactly_the_readme_test_line() -> None:
    root = Path(__file__).resolve().parent.parent
    ci_lines = (root / ".ci" / "run").read_text().splitlines()
    test_line = ci_lines[-1]  # the command CI runs last
    assert test_line == "bash scripts/test-all"
    assert f"```sh\n{test_line}\n```" in README
    script = (root / "scripts" / "test-all").read_text()
    assert "-m pytest -q" in script and "DBADMIN_TEST_SERVER=" in script and " pg15 " in script
    for version in ("3.11", "3.12", "3.13", "3.14"):
        assert version in script


def test_classifiers_list_the_pythons_ci_tests() -> None:
    import tomllib

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    tested = [
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert tested == ["3.11", "3.12", "3.13"]
    assert project["requires-python"] == ">=3.11"
    assert "3.11, 3.12, 3.13" in README
