"""Rules about the code's shape that a tool enforces in CI's lint step (issue 19), checked here
too so that a plain `pytest` run catches them."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 600
CLI_CONTRACT = "Only the CLI imports the CLI (core never imports dbadmin.cli)"


def test_no_module_is_over_600_lines() -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text().splitlines())
        for path in (REPO / "dbadmin").rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}, "split along seams"


def _size_check() -> str:
    """The module-size lines of scripts/test-all's lint section (before any lane starts)."""
    script = (REPO / "scripts" / "test-all").read_text()
    lint = script[: script.index("-m pytest")]
    start = lint.index("long=$(")
    return lint[start : lint.index("\nfi\n", start) + 4]


@pytest.mark.parametrize(("lines", "code"), [(MAX_MODULE_LINES, 0), (MAX_MODULE_LINES + 1, 1)])
def test_ci_lint_step_fails_on_a_module_over_600_lines(
    tmp_path: Path, lines: int, code: int
) -> None:
    (tmp_path / "dbadmin" / "sub").mkdir(parents=True)
    (tmp_path / "dbadmin" / "small.py").write_text("x = 1\n")
    (tmp_path / "dbadmin" / "sub" / "big.py").write_text("x = 1\n" * lines)
    res = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + _size_check() + "echo ok\n"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == code, res.stderr
    if code:
        assert "dbadmin/sub/big.py" in res.stderr and "small.py" not in res.stderr
    else:
        assert res.stdout == "ok\n" and res.stderr == ""


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else None
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_contracts_are_kept() -> None:
    res = _lint_imports(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"Contracts: {len(contracts['contracts'])} kept, 0 broken" in res.stdout


def _mypy_step() -> str:
    """The mypy line of scripts/test-all's lint section (before any lane starts)."""
    script = (REPO / "scripts" / "test-all").read_text()
    lint = script[: script.index("-m pytest")]
    (line,) = [ln for ln in lint.splitlines() if "/bin/mypy" in ln and not ln.startswith("#")]
    return line


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("def double(x: int) -> int:\n    return 2 * x\n", 0),
        ("def double(x: int) -> str:\n    return 2 * x\n", 1),  # a wrong type
        ("def double(x):\n    return 2 * x\n", 1),  # untyped: [tool.mypy] refuses it
    ],
    ids=["typed", "wrong-type", "untyped"],
)
def test_ci_lint_step_fails_on_a_type_error(tmp_path: Path, source: str, code: int) -> None:
    """The step as scripts/test-all runs it, with pyproject.toml's [tool.mypy], on a scratch
    package (the real one is checked by the step itself: seconds here, not a full mypy run)."""
    (tmp_path / "dbadmin").mkdir()
    (tmp_path / "dbadmin" / "__init__.py").write_text(source)
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    (tmp_path / ".venv-X" / "bin").mkdir(parents=True)
    (tmp_path / ".venv-X" / "bin" / "mypy").symlink_to(Path(sys.executable).parent / "mypy")
    res = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\ntested=(X)\n{_mypy_step()}\necho ok\n"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == code, res.stdout + res.stderr
    if code:
        assert "error:" in res.stdout and "ok" not in res.stdout.splitlines()
    else:
        assert res.stdout.splitlines()[-1] == "ok"


def test_no_private_name_is_imported_from_another_package() -> None:
    """``from dbadmin.backup.x import _helper`` in dbadmin.migrate is a boundary crossed: make the
    name public where it belongs, or move it to a shared module."""
    crossings = []
    for path in (REPO / "dbadmin").rglob("*.py"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dbadmin.")
            ):
                continue
            assert node.module is not None
            if node.module.split(".")[:2] == module.split(".")[:2]:
                continue  # inside one package: its own business
            crossings += [
                f"{module}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    assert crossings == []


def test_typer_contract_covers_every_core_module() -> None:
    """The forbidden contract lists its source modules: a new top-level module must join it."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (forbidden,) = [
        c for c in config["contracts"] if c["name"] == "Core never imports typer or click"
    ]
    package = REPO / "dbadmin"
    core = {
        f"dbadmin.{p.stem}"
        for p in package.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists())
        and p.stem not in ("__init__", "__main__", "cli")
    }
    assert set(forbidden["source_modules"]) == core


@pytest.mark.parametrize(
    ("module", "line", "name"),
    [
        ("urls.py", "import dbadmin.cli.common", CLI_CONTRACT),
        ("stats.py", "import typer", "Core never imports typer or click"),
        (
            "errors.py",
            "from dbadmin import db",
            "Layers: CLI, workflows, capabilities, shared modules, errors",
        ),
        (
            "migrate/heads.py",
            "from dbadmin.migrate import runner",
            "No import cycle inside dbadmin.backup or dbadmin.migrate",
        ),
        (
            "api/seeding.py",
            "import dbadmin.cli.common",
            "The public API (dbadmin.api) never imports the CLI",
        ),
        (
            "cli/doctor.py",
            "import dbadmin.doctor",
            "The CLI reaches the capabilities through dbadmin.api",
        ),
        (
            "slowlog/fingerprint.py",
            "from dbadmin.slowlog import accumulate",
            "No import cycle inside the other core packages",
        ),
        (
            "audit/fixsql.py",
            "from dbadmin.audit import context",
            "No import cycle inside the other core packages",
        ),
    ],
)
def test_lint_imports_fails_on_a_broken_contract(
    tmp_path: Path, module: str, line: str, name: str
) -> None:
    shutil.copytree(REPO / "dbadmin", tmp_path / "dbadmin", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    path = tmp_path / "dbadmin" / module
    path.write_text(path.read_text() + f"\n\ndef _late() -> None:\n    {line}  # noqa\n")
    res = _lint_imports(tmp_path, pythonpath=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    broken = [ln for ln in res.stdout.splitlines() if ln.startswith(f"{name} BROKEN")]
    assert broken, res.stdout
