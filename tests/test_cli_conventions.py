"""One meaning per flag across the whole CLI, one duration syntax, closed sets as choices.

Walks the real Click command tree (``typer.main.get_command``), so a command added later is held
to the same rules: a short flag means one thing everywhere (and docs/cli-conventions.md lists it),
and an option whose name says it is a length of time is declared with the shared ``Duration``
type (``250ms``, ``2s``, ``5m``, ``1h``; a bare number is seconds).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from dbadmin.cli import app
from dbadmin.cli.options import Duration, OneOf
from dbadmin.durations import parse_duration
from dbadmin.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
DURATION_LIKE = re.compile(r"timeout|duration|wait|interval|delay|period|ttl|_ms$|_seconds$")


def _commands() -> Iterator[tuple[str, Any, Any]]:
    """(command path, command, its context) for the root and every command under it."""
    root = typer.main.get_command(app)

    def walk(command: Any, path: str, parent: Any) -> Iterator[tuple[str, Any, Any]]:
        ctx = typer.Context(command, info_name=path.split()[-1], parent=parent)
        yield path, command, ctx
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), f"{path} {name}", ctx)

    yield from walk(root, "dbadmin", None)


def _options() -> Iterator[tuple[str, Any]]:
    for path, command, _ctx in _commands():
        for param in command.params:
            if param.param_type_name == "option":
                yield path, param


def _long(param: Any) -> str:
    return max([*param.opts, *param.secondary_opts], key=len)


def test_the_walk_sees_every_command() -> None:
    paths = {path for path, _command, _ctx in _commands()}
    assert {"dbadmin backup create", "dbadmin slow-queries log", "dbadmin health pool"} <= paths
    assert {"dbadmin restore", "dbadmin explain", "dbadmin seed", "dbadmin audit"} <= paths
    assert len(paths) >= 40


def short_flags() -> dict[str, set[str]]:
    """Each short flag and the long options it stands for, over the whole CLI."""
    meanings: dict[str, set[str]] = defaultdict(set)
    for _path, param in _options():
        for opt in [*param.opts, *param.secondary_opts]:
            if re.fullmatch(r"-[A-Za-z0-9]", opt):
                meanings[opt].add(_long(param))
    return dict(meanings)


def test_every_short_flag_has_one_meaning_across_the_cli() -> None:
    clashes = {flag: sorted(longs) for flag, longs in short_flags().items() if len(longs) > 1}
    assert clashes == {}, f"short flags with two meanings: {clashes}"


def test_the_short_flags_table_in_the_docs_is_the_cli_s() -> None:
    """docs/cli-conventions.md lists every short flag with its long form, and nothing else."""
    text = (REPO / "docs" / "cli-conventions.md").read_text()
    documented = dict(re.findall(r"^\| `(-[A-Za-z0-9])` \| `(--[a-z-]+)` \|", text, re.M))
    in_use = {flag: next(iter(longs)) for flag, longs in short_flags().items()}
    assert documented == in_use


def test_every_duration_like_option_uses_the_shared_duration_type() -> None:
    offenders = [
        f"{path} {_long(param)}"
        for path, param in _options()
        if DURATION_LIKE.search(param.name or "") and not isinstance(param.type, Duration)
    ]
    assert offenders == []
    durations = {_long(p) for _path, p in _options() if isinstance(p.type, Duration)}
    assert {"--timeout", "--lock-wait", "--duration", "--wait", "--p95-target"} <= durations


def test_a_bad_duration_is_the_same_one_line_usage_error_everywhere(cli: Any) -> None:
    """Refused while parsing, before anything connects or starts (no DATABASE_URL here)."""
    for args in (
        ("explain", "--timeout", "soon", "SELECT 1"),
        ("migrate", "up", "--lock-wait", "5x"),
        ("seed", "--lock-wait", "later"),
        ("backup", "--timeout", "forever"),
        ("backup", "prune", "--wait", "-1"),
        ("restore", "--timeout", "1y"),
    ):
        res = cli(*args)
        assert res.exit_code == 2, (args, res.stderr)
        assert res.stderr.startswith("dbadmin: error: --") and "is not a duration" in res.stderr
        assert res.stderr.count("\n") == 1 and res.stdout == ""
    res = cli("health", "--timeout", "soon")  # Nagios: a usage error is UNKNOWN
    assert res.exit_code == 3 and "--timeout 'soon' is not a duration" in res.stderr


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("250ms", "s", 0.25),
        ("2s", "s", 2.0),
        ("5m", "s", 300.0),
        ("1h", "s", 3600.0),
        ("10", "s", 10.0),
        ("1.5", "s", 1.5),
        ("50", "ms", 50.0),
        ("2s", "ms", 2000.0),
        ("250us", "ms", 0.25),
        ("1min", "s", 60.0),
    ],
)
def test_one_duration_grammar(text: str, unit: str, value: float) -> None:
    assert parse_duration(text, "--x", unit=unit) == pytest.approx(value)


def test_durations_refused() -> None:
    for text in ("soon", "-1", "5 parsecs", "", "1e3"):
        with pytest.raises(UsageError, match="is not a duration"):
            parse_duration(text, "--x")
    with pytest.raises(UsageError, match="must be positive"):
        parse_duration("0", "--x")
    assert parse_duration("0", "--x", allow_zero=True) == 0.0


def test_duration_flags_take_units_where_they_took_bare_numbers(cli: Any, tmp_path: Path) -> None:
    """`--lock-wait 5` still works, and `--lock-wait 2s` now too; explain's `--timeout 2s`."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    for value in ("250", "250ms", "0.25s"):
        res = cli("slow-queries", "log", str(empty), "--min-duration", value, "--json")
        assert res.exit_code == 0, res.stderr
    params = {_long(p): p for path, p in _options() if path == "dbadmin explain"}
    ctx = typer.Context(typer.main.get_command(app))
    assert params["--timeout"].type.convert("2s", params["--timeout"], ctx) == 2.0
    assert params["--p95-target"].type.convert("0.5", params["--p95-target"], ctx) == 0.5


def test_closed_sets_are_choices_that_complete_in_the_shell() -> None:
    from dbadmin.backup.manifest import FORMATS
    from dbadmin.cli.backup import app as backup_app  # noqa: F401  (loads the options)
    from dbadmin.cli.seed import PROFILES
    from dbadmin.cli.slow import LOG_FORMATS, SORTS
    from dbadmin.seed.run import PROFILES as CORE_PROFILES
    from dbadmin.slowlog.logparse import FORMATS as CORE_LOG_FORMATS
    from dbadmin.slowlog.pgss import SORTS as CORE_SORTS

    assert PROFILES == CORE_PROFILES and SORTS == CORE_SORTS and LOG_FORMATS == CORE_LOG_FORMATS
    choices = {(path, _long(p)): p for path, p in _options() if isinstance(p.type, OneOf)}
    expected = {
        ("dbadmin backup", "--format"): FORMATS,
        ("dbadmin backup create", "--format"): FORMATS,
        ("dbadmin seed", "--profile"): CORE_PROFILES,
        ("dbadmin slow-queries top", "--sort"): CORE_SORTS,
        ("dbadmin slow-queries log", "--format"): CORE_LOG_FORMATS,
    }
    for key, values in expected.items():
        assert tuple(choices[key].type.choices) == tuple(values), key
    param = choices[("dbadmin backup create", "--format")]
    ctx = typer.Context(typer.main.get_command(app))
    assert [item.value for item in param.type.shell_complete(ctx, param, "d")] == ["directory"]


def test_a_bad_choice_is_a_one_line_usage_error(cli: Any) -> None:
    for args, needle in (
        (("backup", "--format", "zip"), "unknown --format 'zip' — use one of custom"),
        (("seed", "--profile", "nosuch"), "unknown profile 'nosuch'"),
        (("slow-queries", "--sort", "slowest"), "unknown --sort 'slowest'"),
    ):
        res = cli(*args)
        assert res.exit_code == 2 and needle in res.stderr, (args, res.stderr)
        assert res.stderr.startswith("dbadmin: error: ") and res.stderr.count("\n") == 1


def test_default_groups_take_their_default_command_s_options_declared_once() -> None:
    """`dbadmin backup` = `backup create`, `dbadmin slow-queries` = `slow-queries top`: the group's
    options are its default command's own objects (one declaration), plus --debug."""
    from dbadmin.cli.groups import DefaultGroup

    found = {}
    for path, command, _ctx in _commands():
        if isinstance(command, DefaultGroup):
            default = command.commands[command.default_command]
            own = [p for p in command.params if p.name != "debug"]
            assert all(any(p is q for q in default.params) for p in own), path
            assert {p.name for p in own} == {p.name for p in default.params} - {"debug"}
            found[path] = command.default_command
    assert found == {"dbadmin backup": "create", "dbadmin slow-queries": "top"}


def test_group_options_reach_the_default_command_or_are_refused(cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    res = cli("slow-queries", "--json", "-n", "3", "log", str(empty))  # both are `log` options
    assert res.exit_code == 0 and res.json()["total_queries"] == 0, res.stderr
    res = cli("slow-queries", "--min-calls", "2", "log", str(empty))
    assert res.exit_code == 2 and "it is an option of `slow-queries top`" in res.stderr
    (tmp_path / "bk").mkdir()
    res = cli("backup", "--dir", str(tmp_path / "bk"), "list", "--json")
    assert res.exit_code == 0 and res.json()["backups"] == [], res.stderr
