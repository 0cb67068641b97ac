"""Rules about the code's shape that a tool enforces in CI's lint step (issue 19), checked here
too so that a plain `pytest` run catches them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 600


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
