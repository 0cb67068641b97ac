"""Settings: built once per invocation, frozen, passed down explicitly.

Resolution order (highest wins): command-line flags, environment variables, a ``.env`` file
found from the working directory upward, and finally the embedded local server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dbadmin.errors import ConfigError
from dbadmin.urls import DbUrl

NEON_POOL_RECYCLE = 300  # Neon suspends idle computes after 5 minutes


@dataclass(frozen=True)
class PoolSettings:
    """The application's SQLAlchemy pool, mirrored so `health pool` tests the real thing."""

    pool_size: int = 10
    max_overflow: int = 20
    pool_timeout: float = 30.0
    pool_recycle: int = -1
    pool_pre_ping: bool = True


@dataclass(frozen=True)
class Settings:
    url: DbUrl
    direct_url: DbUrl
    url_source: (
        str  # "--database-url", "DATABASE_URL", ".env (path)", "PG* environment", "embedded"
    )
    home: Path
    backup_dir: Path
    pool: PoolSettings = field(default_factory=PoolSettings)
    connect_timeout: int = 10
    connect_retry_seconds: float = 30.0
    debug: bool = False
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def embedded(self) -> bool:
        return self.url_source == "embedded"

    def with_url(self, url: DbUrl, source: str | None = None) -> Settings:
        return replace(self, url=url, direct_url=url.direct(), url_source=source or self.url_source)


def find_dotenv(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class DotEnv:
    """A parsed ``.env``: its values, and the line each key was set on (for messages)."""

    path: Path
    values: Mapping[str, str | None] = field(repr=False)  # holds passwords
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f".env ({self.path}" + (f", line {line})" if line else ")")


def read_dotenv(path: Path) -> DotEnv:
    """Read ``path`` strictly. python-dotenv skips a line it cannot parse and a decoding error
    ends the run with a traceback; either could make dbadmin fall back to another database, so
    both are configuration errors naming the file and line."""
    import io

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (line {line}, byte {exc.start + 1})",
            "save the .env file as UTF-8",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        # a binding starts with the blank lines before it: count from its first character
        original = binding.original.string
        blank = original[: len(original) - len(original.lstrip())]
        line = binding.original.line + len(re.findall(r"\r\n|\n|\r", blank))
        if binding.error:
            raise ConfigError(
                f"{path}, line {line}: cannot parse this line",
                "write KEY=value (quote values with spaces; # starts a comment)",
            )
        if binding.key is not None:
            lines[binding.key] = line
    return DotEnv(path, dotenv_values(stream=io.StringIO(text)), lines)


def _require_value(name: str, value: str | None, source: str) -> str:
    """A database URL that is set must say something: an empty one is an error, never 'not
    configured' (a cron job would otherwise back up another database and report success). An
    empty direct URL is fine: the direct URL is then derived from the URL, the same database."""
    if value is None or not value.strip():
        raise ConfigError(
            f"{name} is set but empty (in {source})",
            f"set {name} to a postgresql:// URL, or remove it to use the embedded server",
        )
    return value


def _number(env: Mapping[str, str], name: str, default: float, kind: type = int) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number", f"set {name} to a number") from None
    if value < 0 and name != "DATABASE_POOL_RECYCLE":
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def _url_from_pg_env(env: Mapping[str, str]) -> DbUrl | None:
    if not (env.get("PGHOST") or env.get("PGDATABASE") or env.get("PGSERVICE")):
        return None
    query = tuple(
        (key, env[var])
        for key, var in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"))
        if env.get(var)
    )
    port = env.get("PGPORT")
    return DbUrl(
        user=env.get("PGUSER"),
        password=env.get("PGPASSWORD"),
        host=env.get("PGHOST"),
        port=int(port) if port and port.isdigit() else None,
        database=env.get("PGDATABASE"),
        query=query,
    )


def default_home(env: Mapping[str, str], cwd: Path) -> Path:
    raw = env.get("DBADMIN_HOME")
    return Path(raw).expanduser().resolve() if raw else (cwd / ".dbadmin").resolve()


def resolve(
    *,
    database_url: str | None = None,
    direct_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    debug: bool = False,
) -> Settings:
    """Build the settings for one invocation. Does not connect or start anything."""
    cwd = cwd or Path.cwd()
    process_env = dict(os.environ if environ is None else environ)
    dotenv_path = find_dotenv(cwd)
    dotenv = read_dotenv(dotenv_path) if dotenv_path else None
    dotenv_values = dotenv.values if dotenv else {}
    env: dict[str, str] = {
        **{k: v for k, v in dotenv_values.items() if v is not None},
        **process_env,
    }  # the environment beats .env

    def configured(name: str) -> tuple[str | None, str, str] | None:
        """(value, source, where) of a variable set in the environment or .env, even empty."""
        if name in process_env:
            return process_env[name], name, "the environment"
        if dotenv is not None and name in dotenv_values:
            return dotenv_values[name], f".env ({dotenv.path})", dotenv.where(name)
        return None

    home = default_home(env, cwd)
    url: DbUrl
    database = configured("DATABASE_URL")
    direct_env = configured("DATABASE_DIRECT_URL")
    if direct_env is not None and not (direct_env[0] or "").strip():
        direct_env = None  # empty: derived from the URL, the same database
    if database_url is not None:
        url = DbUrl.parse(_require_value("--database-url", database_url, "the command line"))
        source = "--database-url"
    elif database is not None:
        url = DbUrl.parse(_require_value("DATABASE_URL", database[0], database[2]))
        source = database[1]
    elif (pg_url := _url_from_pg_env(env)) is not None:
        url, source = pg_url, "PG* environment"
    elif direct_env is not None:
        raise ConfigError(
            f"DATABASE_DIRECT_URL is set (in {direct_env[2]}) but DATABASE_URL is not",
            "set DATABASE_URL too; the embedded server is used only when nothing is configured",
        )
    else:
        from dbadmin.local import embedded_url

        url, source = embedded_url(home), "embedded"

    url = url.secure()
    if direct_url and direct_url.strip():
        direct = DbUrl.parse(direct_url).secure()
    elif direct_env is not None and direct_env[0] and database_url is None:
        direct = DbUrl.parse(direct_env[0]).secure()
    else:
        direct = url.direct()

    recycle_default = NEON_POOL_RECYCLE if url.is_neon else -1
    pool = PoolSettings(
        pool_size=int(_number(env, "DATABASE_POOL_SIZE", 10)),
        max_overflow=int(_number(env, "DATABASE_MAX_OVERFLOW", 20)),
        pool_timeout=float(_number(env, "DATABASE_POOL_TIMEOUT", 30.0, float)),
        pool_recycle=int(_number(env, "DATABASE_POOL_RECYCLE", recycle_default)),
        pool_pre_ping=env.get("DATABASE_POOL_PRE_PING", "1").lower() not in {"0", "false", "no"},
    )
    if url.is_neon and (pool.pool_recycle < 0 or pool.pool_recycle > NEON_POOL_RECYCLE):
        # a longer recycle meets "SSL SYSCALL error: EOF detected" after a compute suspend
        pool = replace(pool, pool_recycle=NEON_POOL_RECYCLE)
    backup_raw = env.get("DBADMIN_BACKUP_DIR")
    backup_dir = Path(backup_raw).expanduser().resolve() if backup_raw else home / "backups"
    return Settings(
        url=url,
        direct_url=direct,
        url_source=source,
        home=home,
        backup_dir=backup_dir,
        pool=pool,
        connect_timeout=int(_number(env, "DBADMIN_CONNECT_TIMEOUT", 10)),
        connect_retry_seconds=float(_number(env, "DBADMIN_CONNECT_RETRY", 30.0, float)),
        debug=debug,
        env=env,
    )
