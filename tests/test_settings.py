"""Settings resolution and URL rules (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbadmin.errors import ConfigError
from dbadmin.settings import resolve
from dbadmin.urls import DbUrl, scrub

NEON = "postgresql://alice:pw-123456@ep-cool-dawn-123456-pooler.us-east-2.aws.neon.tech/app"


def test_flag_beats_env_beats_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://u@dotenv-host/db\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    from_dotenv = resolve(environ={}, cwd=sub)
    assert from_dotenv.url.host == "dotenv-host"
    assert from_dotenv.url_source.startswith(".env (")
    from_env = resolve(environ={"DATABASE_URL": "postgresql://u@env-host/db"}, cwd=sub)
    assert (from_env.url.host, from_env.url_source) == ("env-host", "DATABASE_URL")
    from_flag = resolve(
        database_url="postgresql://u@flag-host/db",
        environ={"DATABASE_URL": "postgresql://u@env-host/db"},
        cwd=sub,
    )
    assert (from_flag.url.host, from_flag.url_source) == ("flag-host", "--database-url")


def test_embedded_default_when_nothing_configured(tmp_path: Path) -> None:
    settings = resolve(environ={}, cwd=tmp_path)
    assert settings.embedded
    assert settings.home == (tmp_path / ".dbadmin").resolve()
    assert settings.url.is_socket


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@h/db",
        "postgresql://u:p@h/db",
        "postgresql+psycopg2://u:p@h/db",
        "postgresql+asyncpg://u:p@h/db?ssl=require",
    ],
)
def test_accepted_schemes(raw: str) -> None:
    url = DbUrl.parse(raw)
    assert (url.user, url.password, url.host, url.database) == ("u", "p", "h", "db")
    assert url.render(driver="psycopg2").startswith("postgresql+psycopg2://")


def test_asyncpg_ssl_becomes_sslmode() -> None:
    url = DbUrl.parse("postgresql+asyncpg://u:p@h/db?ssl=require")
    assert url.sslmode == "require"
    assert "ssl" not in url.params


@pytest.mark.parametrize("raw", ["not a url", "mysql://u@h/db", "postgresql://u@h:notaport/db"])
def test_malformed_urls(raw: str) -> None:
    with pytest.raises(ConfigError):
        DbUrl.parse(raw)


def test_neon_pooler_direct_and_tls() -> None:
    settings = resolve(
        database_url=NEON + "?channel_binding=require&options=endpoint%3Dep-cool", environ={}
    )
    assert settings.url.is_neon and settings.url.is_pooler
    assert settings.direct_url.host == "ep-cool-dawn-123456.us-east-2.aws.neon.tech"
    assert not settings.direct_url.is_pooler
    assert settings.url.sslmode == "require"  # added for a remote host
    assert settings.url.params["channel_binding"] == "require"
    assert settings.url.params["options"] == "endpoint=ep-cool"
    assert settings.pool.pool_recycle == 300
    assert settings.pool.pool_pre_ping
    assert (settings.pool.pool_size, settings.pool.max_overflow, settings.pool.pool_timeout) == (
        10,
        20,
        30,
    )


def test_direct_url_env_wins() -> None:
    direct = "postgresql://alice:pw@ep-other-1.us-east-2.aws.neon.tech/app"
    settings = resolve(environ={"DATABASE_URL": NEON, "DATABASE_DIRECT_URL": direct})
    assert settings.direct_url.host == "ep-other-1.us-east-2.aws.neon.tech"


def test_neon_refuses_sslmode_disable() -> None:
    with pytest.raises(ConfigError, match="not allowed for Neon"):
        resolve(database_url=NEON + "?sslmode=disable", environ={})


def test_local_url_gets_no_sslmode() -> None:
    assert resolve(database_url="postgresql://u@localhost/db", environ={}).url.sslmode is None


def test_pool_settings_from_env() -> None:
    settings = resolve(
        database_url="postgresql://u@localhost/db",
        environ={
            "DATABASE_POOL_SIZE": "3",
            "DATABASE_MAX_OVERFLOW": "0",
            "DATABASE_POOL_TIMEOUT": "0.5",
        },
    )
    assert (settings.pool.pool_size, settings.pool.max_overflow, settings.pool.pool_timeout) == (
        3,
        0,
        0.5,
    )
    with pytest.raises(ConfigError):
        resolve(database_url="postgresql://u@localhost/db", environ={"DATABASE_POOL_SIZE": "many"})


def test_masking_everywhere() -> None:
    url = DbUrl.parse("postgresql://bob:s3cr%40t-pass@db.example.com:5432/app")
    assert url.password == "s3cr@t-pass"
    for text in (url.masked(), str(url), repr(url)):
        assert "s3cr" not in text
    assert "s3cr" not in scrub("failed: postgresql://bob:s3cr%40t-pass@db.example.com/app")
    assert "hunter2" not in scrub("host=x password=hunter2 dbname=y")
    assert "PGPASSWORD" in url.libpq_env()


def test_libpq_env_for_subprocess() -> None:
    env = DbUrl.parse(NEON + "?sslmode=require&channel_binding=require").libpq_env()
    assert env["PGPASSWORD"] == "pw-123456"
    assert env["PGSSLMODE"] == "require"
    assert env["PGCHANNELBINDING"] == "require"
