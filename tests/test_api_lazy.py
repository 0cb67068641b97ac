"""dbadmin.api loads lazily (PEP 562): ``import dbadmin.api`` costs no submodule, a name loads
only the submodule that defines it, and no submodule shadows a function of the same name.

Each check runs in a fresh interpreter: in the test process other tests have long since loaded
every submodule, so sys.modules there proves nothing.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# the five functions that once shared their name with their submodule (backup.py, restore.py...)
SHADOWED = ("backup", "restore", "seed", "explain", "explain_catalog")


def run_fresh(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it prints one JSON document, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_import_loads_no_submodule_and_a_name_loads_only_its_own() -> None:
    seen = run_fresh(
        """
        import json, sys
        import dbadmin.api
        after_import = sorted(m for m in sys.modules if m.startswith("dbadmin.api."))
        heavy = sorted(m for m in ("sqlalchemy", "alembic", "psycopg2", "pglast") if m in sys.modules)
        from dbadmin.api import parse_logs
        after_name = sorted(m for m in sys.modules if m.startswith("dbadmin.api."))
        print(json.dumps({"after_import": after_import, "heavy": heavy, "after_name": after_name}))
        """
    )
    assert seen["after_import"] == []
    assert seen["heavy"] == []
    assert seen["after_name"] == ["dbadmin.api.slow", "dbadmin.api.target"]


def test_functions_named_like_their_module_stay_functions() -> None:
    """The trap: importing a submodule binds its name on the package. migrate_up imports the
    backups module inside the call; here every submodule is imported first, directly, and then
    the five functions are looked up: each must be the function, never a module."""
    seen = run_fresh(
        """
        import importlib, inspect, json, pkgutil
        import dbadmin.api as api
        names = sorted(m.name for m in pkgutil.iter_modules(api.__path__))
        for name in names:
            importlib.import_module(f"dbadmin.api.{name}")
        from dbadmin.api import RestoreReport, backup, explain, explain_catalog, restore, seed
        imported = (backup, restore, seed, explain, explain_catalog)
        print(json.dumps({
            "submodules": names,
            "attributes": {n: inspect.isfunction(getattr(api, n)) for n in ("backup", "restore", "seed", "explain", "explain_catalog")},
            "imported": [inspect.isfunction(f) for f in imported],
            "report_is_class": inspect.isclass(RestoreReport),
        }))
        """
    )
    assert seen["attributes"] == dict.fromkeys(SHADOWED, True)
    assert seen["imported"] == [True] * 5
    assert seen["report_is_class"] is True
    # no submodule may be named like anything the package exports
    from dbadmin import api

    assert not set(seen["submodules"]) & set(api.__all__)  # type: ignore[arg-type]


def test_star_import_all_and_dir() -> None:
    seen = run_fresh(
        """
        import json
        import dbadmin.api as api
        listed = dir(api)
        namespace = {}
        exec("from dbadmin.api import *", namespace)
        print(json.dumps({
            "all": api.__all__,
            "table": sorted(api._SUBMODULE_OF),
            "star": sorted(k for k in namespace if k != "__builtins__"),
            "missing_from_dir": sorted(set(api.__all__) - set(listed)),
            "unresolved": [n for n in api.__all__ if getattr(api, n, None) is None],
            "modules": [n for n in api.__all__ if type(getattr(api, n)).__name__ == "module"],
        }))
        """
    )
    assert seen["all"] == sorted(seen["all"])  # type: ignore[type-var]
    assert seen["table"] == seen["all"] == seen["star"]
    assert seen["missing_from_dir"] == []
    assert seen["unresolved"] == []
    assert seen["modules"] == []


def test_unknown_name_is_an_attribute_error() -> None:
    from dbadmin import api

    with pytest.raises(AttributeError, match="no_such_command"):
        api.no_such_command  # type: ignore[attr-defined]  # noqa: B018


def test_lazy_table_matches_the_type_checking_imports() -> None:
    """mypy and IDEs read the ``if TYPE_CHECKING:`` imports, the runtime reads ``_EXPORTS``: the
    two must name the same submodule for every name."""
    from dbadmin import api

    tree = ast.parse(Path(api.__file__).read_text(encoding="utf-8"))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    static = {
        alias.name: node.module.removeprefix("dbadmin.api.")
        for node in guarded.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert static == api._SUBMODULE_OF
