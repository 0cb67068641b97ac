"""Which models the migrations are compared against: ``DBADMIN_MODELS`` or the reference schema."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dbadmin.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from dbadmin.settings import Settings

DEFAULT_MODELS = "dbadmin.models:Base"
# dbadmin's own bookkeeping; never part of anybody's models
OWN_TABLES = frozenset({"alembic_version", "dbadmin_migrations"})


def models_spec(settings: Settings) -> str:
    return settings.env.get("DBADMIN_MODELS") or DEFAULT_MODELS


def load_metadata(settings: Settings, spec: str | None = None) -> MetaData:
    """The MetaData in use: ``pkg.mod:Base`` (anything with ``.metadata``), ``pkg.mod:metadata``,
    or ``pkg.mod`` (its ``Base`` or ``metadata``). Import errors become exit code 2."""
    from sqlalchemy import MetaData

    spec = spec or models_spec(settings)
    module_name, _, attr = spec.partition(":")
    if not module_name:
        raise ConfigError(f"DBADMIN_MODELS={spec!r} is malformed", "use pkg.module:Base")
    cwd = str(Path.cwd())
    if cwd not in sys.path:  # like alembic's prepend_sys_path = .
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"cannot import models {spec!r}: {type(exc).__name__}: {exc}",
            "fix DBADMIN_MODELS (pkg.module:Base) or the module's import error",
        ) from None
    candidates = [attr] if attr else ["Base", "metadata", "target_metadata"]
    for name in candidates:
        obj = getattr(module, name, None)
        if obj is None:
            continue
        if isinstance(obj, MetaData):
            return obj
        meta = getattr(obj, "metadata", None)
        if isinstance(meta, MetaData):
            return meta
        raise ConfigError(
            f"models {spec!r}: {name} is neither a MetaData nor a declarative Base",
            "point DBADMIN_MODELS at pkg.module:Base or pkg.module:metadata",
        )
    raise ConfigError(
        f"models {spec!r}: no {' or '.join(candidates)} in module {module_name}",
        "point DBADMIN_MODELS at pkg.module:Base or pkg.module:metadata",
    )


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate filter: ignore dbadmin's and Alembic's bookkeeping tables."""
    return not (type_ == "table" and name in OWN_TABLES)
