"""Every command documents itself: `--help` has an example, and the README mentions it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from dbadmin.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, object]] = []

    def walk(prefix: str, command: object) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(f"{prefix} {name}".strip(), sub)
            if prefix:
                found.append((prefix, command))
        else:
            found.append((prefix, command))

    walk("", root)
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


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_help_has_an_example_and_readme_mentions_it(name: str, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(*name.split(), "--help")
    assert res.exit_code == 0, res.stderr
    assert "Example" in res.stdout, f"`dbadmin {name} --help` has no example"
    assert f"dbadmin {name}" in README, f"README does not mention `dbadmin {name}`"


def test_ci_runs_exactly_the_readme_test_line() -> None:
    root = Path(__file__).resolve().parent.parent
    ci_lines = (root / ".ci" / "run").read_text().splitlines()
    test_line = next(line for line in ci_lines if "pytest" in line)
    assert f"```sh\n{test_line}\n```" in README
