"""Build hook: ship the reference migrations inside the wheel, as ``dbadmin/_migrations``.

The repository keeps them at the top level (``migrations/`` next to ``alembic.ini``) so that plain
``alembic`` works from a checkout; an installed dbadmin finds them in ``dbadmin/_migrations``
(see ``dbadmin.migrate.locate``). Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        source = HERE / "migrations"
        if not (source / "env.py").is_file():
            raise SystemExit("migrations/env.py is missing: cannot build dbadmin")
        target = Path(self.build_lib) / "dbadmin" / "_migrations"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))


setup(cmdclass={"build_py": BuildPyWithMigrations})
