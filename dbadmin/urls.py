"""Database URLs: parsing, Neon awareness, TLS defaults and masking.

Kept free of SQLAlchemy so that resolving settings (done by every command) stays cheap.
One masking function (:func:`scrub`) is used for everything that leaves the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from dbadmin.errors import ConfigError

ACCEPTED_SCHEMES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "postgresql+psycopg2": "postgresql",
    "postgresql+psycopg": "postgresql",
    "postgresql+asyncpg": "postgresql",
}
NEON_HOST_RE = re.compile(
    r"^(?P<endpoint>ep-[a-z0-9-]+?)(?P<pooler>-pooler)?\.(?P<rest>.+\.neon\.tech)$"
)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
MASK = "***"
# asyncpg spells TLS "ssl=require"; libpq/psycopg2 spells it "sslmode=require".
ASYNCPG_ONLY_PARAMS = {"ssl", "prepared_statement_cache_size", "statement_cache_size"}


@dataclass(frozen=True)
class DbUrl:
    """A parsed PostgreSQL URL. ``str()`` of it is always masked; use ``render()`` for libpq."""

    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    # --- parsing -----------------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: str) -> DbUrl:
        """A URL (``postgresql://...``) or a libpq key=value string (``host=... dbname=...``).

        libpq's ``user``, ``password`` and ``dbname`` query parameters override the URL's parts,
        as libpq does, so that messages name the real user and masking finds the password."""
        text = raw.strip()
        if "://" not in text:
            if "=" in text:
                return cls._parse_keywords(text)
            raise ConfigError(
                f"malformed database URL {scrub(text)!r}: no scheme",
                "use postgresql://USER:PASSWORD@HOST:PORT/DBNAME",
            )
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ACCEPTED_SCHEMES:
            raise ConfigError(
                f"unsupported URL scheme {scheme!r}",
                "use postgresql://, postgres://, postgresql+psycopg2:// or postgresql+asyncpg://",
            )
        text = _encode_raw_userinfo(text)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            reason = re.sub(r"'.*'", "'...'", str(exc))  # it quotes the port: maybe a password
            raise ConfigError(
                f"malformed database URL {scrub(text)!r}: {reason}",
                "check the host and port (postgresql://USER:PASSWORD@HOST:5432/DBNAME)",
            ) from None
        query = parse_qsl(parts.query, keep_blank_values=True)
        # asyncpg's ssl=<mode> becomes libpq's sslmode=<mode>
        converted: list[tuple[str, str]] = []
        for key, value in query:
            if key == "ssl" and scheme == "postgresql+asyncpg":
                if not any(k == "sslmode" for k, _ in query):
                    converted.append(("sslmode", "require" if value in {"true", "1"} else value))
                continue
            if key in ASYNCPG_ONLY_PARAMS:
                continue
            converted.append((key, value))
        host = unquote(parts.hostname) if parts.hostname else None
        if host is None:
            # libpq allows the socket directory in ?host=
            host = dict(converted).get("host") or None
            converted = [(k, v) for k, v in converted if k != "host"]
        if parts.netloc and "@" not in parts.netloc and ":" in parts.netloc and port is None:
            raise ConfigError(f"malformed database URL {scrub(text)!r}: bad port")
        database = unquote(parts.path.lstrip("/")) or None
        if database and "/" in database:
            raise ConfigError(f"malformed database URL {scrub(text)!r}: bad database name")
        overrides = {k: v for k, v in converted if k in _QUERY_FIELDS}
        return cls(
            user=overrides.get("user") or (unquote(parts.username) if parts.username else None),
            password=overrides.get(
                "password", unquote(parts.password) if parts.password is not None else None
            ),
            host=host,
            port=port,
            database=overrides.get("dbname") or database,
            query=tuple((k, v) for k, v in converted if k not in _QUERY_FIELDS),
        )

    @classmethod
    def _parse_keywords(cls, text: str) -> DbUrl:
        """libpq's ``key=value`` connection string (values quoted with '...' and backslashes)."""
        pairs: dict[str, str] = {}
        pos = 0
        while pos < len(text):
            match = _KV_PAIR_RE.match(text, pos)
            if match is None or match.end() == pos:
                raise ConfigError(
                    f'malformed connection string "{scrub(text)}" near character {pos + 1}',
                    "use key=value pairs (host=... dbname=... user=...) or a postgresql:// URL",
                )
            value = match.group("value")
            if value.startswith("'"):
                value = value[1:-1]
            pairs[match.group("key")] = re.sub(r"\\(.)", r"\1", value)
            pos = match.end()
        port = pairs.pop("port", None)
        if port is not None and not port.isdigit():
            raise ConfigError(f'malformed connection string "{scrub(text)}": bad port')
        return cls(
            user=pairs.pop("user", None),
            password=pairs.pop("password", None),
            host=pairs.pop("host", None),
            port=int(port) if port else None,
            database=pairs.pop("dbname", None),
            query=tuple(pairs.items()),
        )

    # --- properties ----------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def sslmode(self) -> str | None:
        return self.params.get("sslmode")

    @property
    def is_socket(self) -> bool:
        return self.host is not None and self.host.startswith("/")

    @property
    def is_local(self) -> bool:
        return (
            self.host is None
            or self.is_socket
            or self.host in LOCAL_HOSTS
            or (self.host.startswith("127."))
        )

    @property
    def neon_endpoint(self) -> str | None:
        match = NEON_HOST_RE.match(self.host or "")
        return match.group("endpoint") if match else None

    @property
    def is_neon(self) -> bool:
        return self.neon_endpoint is not None

    @property
    def is_pooler(self) -> bool:
        """A Neon ``-pooler`` endpoint: PgBouncer in transaction mode (no session state)."""
        match = NEON_HOST_RE.match(self.host or "")
        return bool(match and match.group("pooler"))

    @property
    def needs_tls(self) -> bool:
        return (self.sslmode or "prefer") in {"require", "verify-ca", "verify-full"}

    # --- transformations -----------------------------------------------------------------------
    def with_query(self, **updates: str | None) -> DbUrl:
        items = [(k, v) for k, v in self.query if k not in updates]
        items += [(k, v) for k, v in updates.items() if v is not None]
        return replace(self, query=tuple(items))

    def with_database(self, database: str) -> DbUrl:
        return replace(self, database=database)

    def direct(self) -> DbUrl:
        """The direct (non-pooled) endpoint of a Neon ``-pooler`` URL; other URLs unchanged."""
        match = NEON_HOST_RE.match(self.host or "")
        if not match or not match.group("pooler"):
            return self
        return replace(self, host=f"{match.group('endpoint')}.{match.group('rest')}")

    def secure(self) -> DbUrl:
        """Apply dbadmin's TLS rules: remote hosts get sslmode=require; Neon refuses disable."""
        mode = self.sslmode
        if self.is_neon and mode in {"disable", "allow"}:
            raise ConfigError(
                f"sslmode={mode} is not allowed for Neon host {self.host}",
                "Neon requires TLS: use sslmode=require (or verify-full), or drop sslmode",
            )
        if mode is None and not self.is_local:
            return self.with_query(sslmode="require")
        return self

    # --- rendering -----------------------------------------------------------------------------
    def render(self, *, driver: str | None = None, hide_password: bool = False) -> str:
        scheme = "postgresql" + (f"+{driver}" if driver else "")
        netloc = ""
        if self.user or self.password is not None:
            netloc = quote(self.user or "", safe="")
            if self.password is not None:
                netloc += ":" + (MASK if hide_password else quote(self.password, safe=""))
            netloc += "@"
        query = list(self.query)
        if self.host and self.is_socket:
            query = [("host", self.host), *query]
        elif self.host:
            netloc += f"[{self.host}]" if ":" in self.host else self.host
        if self.port:
            netloc += f":{self.port}"
        text = f"{scheme}://{netloc}/{quote(self.database or '', safe='')}"
        if query:
            text += "?" + urlencode(query, safe="/%=")
        return text

    def masked(self) -> str:
        return self.render(hide_password=True)

    def connect_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``psycopg2.connect`` (libpq keywords)."""
        kwargs: dict[str, str] = {}
        if self.host:
            kwargs["host"] = self.host
        if self.port:
            kwargs["port"] = str(self.port)
        if self.user:
            kwargs["user"] = self.user
        if self.password is not None:
            kwargs["password"] = self.password
        if self.database:
            kwargs["dbname"] = self.database
        kwargs.update(self.params)
        return kwargs

    def libpq_env(self) -> dict[str, str]:
        """PG* environment for a subprocess (pg_dump, psql): the password never goes in argv."""
        names = {
            "host": "PGHOST",
            "port": "PGPORT",
            "user": "PGUSER",
            "password": "PGPASSWORD",
            "dbname": "PGDATABASE",
            "sslmode": "PGSSLMODE",
            "sslrootcert": "PGSSLROOTCERT",
            "sslcert": "PGSSLCERT",
            "sslkey": "PGSSLKEY",
            "channel_binding": "PGCHANNELBINDING",
            "options": "PGOPTIONS",
            "application_name": "PGAPPNAME",
            "connect_timeout": "PGCONNECT_TIMEOUT",
            "target_session_attrs": "PGTARGETSESSIONATTRS",
            "sslsni": "PGSSLSNI",
        }
        env: dict[str, str] = {}
        for key, value in self.connect_kwargs().items():
            if key in names:
                env[names[key]] = value
        return env

    def describe(self) -> str:
        """Host/database in words, for confirmations and notices. A socket directory is named
        as one, with its port apart: ``/srv/run:5432`` would read as a TCP host and port."""
        port = f" (port {self.port})" if self.port else ""
        if self.is_socket:
            where = f"socket {self.host}{port}"
        elif self.host:
            where = f"{self.host}:{self.port}" if self.port else self.host
        else:
            where = f"the local socket{port}"
        return f"database {self.database or '(default)'} on {where}"

    def __str__(self) -> str:  # never leak by accident
        return self.masked()

    def __repr__(self) -> str:
        return f"DbUrl({self.masked()!r})"


# A URL's password runs to the LAST "@" of the URL (a raw "@" in a password is common), and a URL
# ends at whitespace: masking a host too much is harmless, a password's tail is not.
_URL_PASSWORD_RE = re.compile(
    r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>\S*)(?P<post>@)", re.I
)
# password=..., PGPASSWORD=..., a URL's ?password=... (quoted values as libpq quotes them)
# (a value already masked, "***", is left alone: scrubbing twice changes nothing; so is a
# statement's placeholder, "password = $1" or "password = ?")
_KV_PASSWORD_RE = re.compile(
    r"(?P<pre>\b(?:pg)?password\s*=\s*)(?!(?:\*\*\*|\$\d+|\?)(?:[\s\"',;&)]|$))"
    r"(?P<pw>'(?:[^'\\]|\\.)*(?:'|$)|(?:\\.|\S)+)",
    re.I,
)


# libpq's URL query parameters that name a part the URL also has: they win, as in libpq
_QUERY_FIELDS = {"user", "password", "dbname"}
_KV_PAIR_RE = re.compile(
    r"\s*(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)*)\s*"
)


def _plain_location(text: str) -> bool:
    """``host[:port][/path][?query]`` with ``@`` only inside query values: what follows a URL's
    userinfo when it was split at the right ``@``."""
    authority = re.split(r"[/?#]", text, maxsplit=1)[0]
    tail = text[len(authority) :]
    path = re.split(r"[?#]", tail, maxsplit=1)[0]
    query = tail[len(path) :]
    port = authority.rpartition(":")[2] if ":" in authority.rpartition("]")[2] else ""
    return (
        "@" not in authority + path
        and (port == "" or port.isdigit())
        and not query.startswith("#")
        and all(
            "=" in item and "@" not in item.split("=", 1)[0]
            for item in query[1:].split("&")
            if "@" in item
        )
    )


def _encode_raw_userinfo(text: str) -> str:
    """``text`` with a userinfo holding raw ``@ : / ? # %`` percent-encoded, so that urlsplit
    finds the host, port and database.

    People paste passwords unencoded. The standard reading (the authority ends at the first
    ``/ ? #``, the userinfo at its last ``@``) is kept when what follows the userinfo is a plain
    location; otherwise the userinfo ends at the first ``@`` that a plain location follows."""
    scheme, rest = text.split("://", 1)
    if "@" not in rest:
        return text
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo = authority.rpartition("@")[0]
    if _plain_location(rest[len(userinfo) + 1 :] if "@" in authority else rest):
        return text
    for index, char in enumerate(rest):
        if char == "@" and _plain_location(rest[index + 1 :]):
            user, colon, password = rest[:index].partition(":")
            if re.search(r"[/?#]", user):
                break
            userinfo = quote(unquote(user), safe="") + colon + quote(unquote(password), safe="")
            return f"{scheme}://{userinfo}{rest[index:]}"
    # no reading makes sense: guessing could connect somewhere else
    raise ConfigError(
        f"malformed database URL {scrub(text)!r}: cannot tell the password from the host and port",
        "percent-encode the password (@ %40, : %3A, / %2F, % %25, # %23, ? %3F) and check the port",
    )


def scrub(text: str, *secrets: str | None) -> str:
    """Mask passwords in ``text``: in URLs, in ``password=...`` pairs, and the given secrets."""
    out = _URL_PASSWORD_RE.sub(lambda m: m.group("pre") + MASK + m.group("post"), text)
    out = _KV_PASSWORD_RE.sub(lambda m: m.group("pre") + MASK, out)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK)
            quoted = quote(secret, safe="")
            if quoted != secret:
                out = out.replace(quoted, MASK)
    return out


# SQL that sets a password: CREATE/ALTER ROLE ... PASSWORD '...', OPTIONS (password '...')
_SQL_PASSWORD_RE = re.compile(
    r"(?P<pre>\bpassword\s+)(?P<pw>[eE]?'(?:[^']|'')*(?:'|$)|\$(?P<tag>\w*)\$.*?(?:\$(?P=tag)\$|$))",
    re.I | re.S,
)


def scrub_sql(text: str) -> str:
    """Statement text from other sessions (pg_stat_statements, server logs) with passwords
    masked: pg_stat_statements keeps utility statements such as ``ALTER ROLE app PASSWORD
    '...'`` verbatim, and they would otherwise reach slow-query tables, JSON and HTML."""
    return scrub(_SQL_PASSWORD_RE.sub(lambda m: m.group("pre") + f"'{MASK}'", text))


def masked_line(text: str, *secrets: str | None, limit: int | None = None) -> str:
    """``text`` on one line with passwords masked (URLs, ``password=``, ``secrets``), then cut
    to ``limit`` characters: cutting first could leave a URL without its ``@``, which the
    masking no longer recognises, and show part of its password."""
    out = scrub(" ".join(text.split()), *secrets)
    return out if limit is None else out[:limit]


def error_line(exc: BaseException, *secrets: str | None, limit: int | None = None) -> str:
    """The first line of an error (PostgreSQL's primary message when there is one), masked.

    The one way health checks, the pool load and slowlog turn a failed statement or connection
    into a line of a result."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = primary or (lines[0] if lines else type(exc).__name__)
    return masked_line(text, *secrets, limit=limit)
