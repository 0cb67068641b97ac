"""The wheel builds from pyproject.toml alone (no setup.py) and carries what an installed dbadmin
needs: the bundled migrations, every SQL file, py.typed. Built without network (hatchling is a
test dependency, ``--no-build-isolation``)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_builds_and_ships_migrations_sql_and_types(tmp_path: Path) -> None:
    assert not (ROOT / "setup.py").exists()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("dbadmin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    versions = {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}
    assert {"dbadmin/_migrations/env.py", "dbadmin/_migrations/script.py.mako"} <= names
    assert {f"dbadmin/_migrations/versions/{v}" for v in versions} <= names
    sql = {str(p.relative_to(ROOT)) for p in (ROOT / "dbadmin").rglob("*.sql")}
    assert sql and sql <= names
    assert "dbadmin/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]
