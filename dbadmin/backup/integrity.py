"""The checks of a backup that need no database: is it still the bytes pg_dump wrote, and does
its content match the manifest's row counts?

Level 1: sha256 of every file against the manifest, plus size, and nothing but regular files (no
symbolic link out of the backup). Level 2: ``pg_restore --list`` reads the archive's table of
contents (custom/directory), or for plain SQL the script is read for its header, its "dump
complete" trailer and its COPY statements; either way every table with data in the archive must
have a row count in the manifest and every counted table must be in the archive. ``restore``
runs them before restoring and ``backup verify`` (:mod:`dbadmin.backup.verify`) before its
restore test, so they live apart from both.
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbadmin.backup.binaries import choose
from dbadmin.backup.manifest import BackupEntry, sha256_file
from dbadmin.backup.runner import pinned_path, run_tool, tool_env
from dbadmin.errors import ExternalToolError
from dbadmin.urls import DbUrl

PLAIN_HEADER = b"-- PostgreSQL database dump"
PLAIN_TRAILER = b"-- PostgreSQL database dump complete"
READ_CHUNK = 1024 * 1024
COPY_END = b"\\.\n"  # the line that ends a COPY's data in a plain script
IDENT = rb'"(?:[^"]|"")*"|[^".\s(]+'
COPY_RE = re.compile(rb"^COPY (" + IDENT + rb")\.(" + IDENT + rb") .*FROM stdin;\r?\n?$")
TOC_DATA_RE = re.compile(r"^\d+; \d+ \d+ TABLE DATA (.*)$")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _regular_files(base: Path) -> tuple[set[str], list[str]]:
    """Relative paths of the regular files under ``base`` (links not followed), and a problem
    for everything else found there (symbolic links, devices, sockets...)."""
    present: set[str] = set()
    strange: list[str] = []
    for root, dirs, files in os.walk(base, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                strange.append(f"{path}: a symbolic link (a backup holds regular files only)")
            elif stat.S_ISREG(mode):
                present.add(str(path.relative_to(base)))
            elif not stat.S_ISDIR(mode):
                strange.append(f"{path}: not a regular file")
    return present, strange


def checksum_problems(entry: BackupEntry) -> list[str]:
    """Every file whose size or sha256 differs from the manifest (or that is missing/extra, or
    not a regular file: nothing is read through a symbolic link)."""
    manifest = entry.manifest
    problems: list[str] = []
    if manifest.format == "directory":
        base = entry.data_path
        if base.is_symlink() or not base.is_dir():
            return [f"{base}: not a directory of this backup's own"]
        present, problems = _regular_files(base)
        for extra in sorted(present - {f.path for f in manifest.files}):
            problems.append(f"{base / extra}: not in the manifest")
    else:
        base = entry.data_path.parent
        present = {item.path for item in manifest.files if (base / item.path).is_file()}
        problems = [
            f"{base / item.path}: a symbolic link (a backup holds regular files only)"
            for item in manifest.files
            if (base / item.path).is_symlink()
        ]
    for item in manifest.files:
        path = base / item.path
        if item.path not in present or path.is_symlink():
            if not path.is_symlink():
                problems.append(f"{path}: missing")
            continue
        size = path.lstat().st_size
        if size != item.size:
            problems.append(f"{path}: size {size} bytes, manifest says {item.size}")
            continue
        if sha256_file(path) != item.sha256:
            problems.append(f"{path}: sha256 mismatch (file changed since the backup)")
    return problems


class _ScriptReader:
    """Lines of a plain SQL script, and a fast skip over a COPY's data (a search for the
    ``\\.`` line in large chunks instead of a Python loop over every data line)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.buf = b""
        self.pos = 0

    def _more(self) -> bool:
        chunk = self.handle.read(READ_CHUNK)
        if not chunk:
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def readline(self) -> bytes:
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line, self.pos = self.buf[self.pos : end + 1], end + 1
                return line
            if not self._more():
                line, self.pos = self.buf[self.pos :], len(self.buf)
                return line

    def skip_copy_data(self) -> bool:
        """Move past the line ending the current COPY's data; False at the end of the file."""
        while len(self.buf) - self.pos < len(COPY_END) and self._more():
            pass
        if self.buf.startswith(COPY_END, self.pos):  # no rows
            self.pos += len(COPY_END)
            return True
        while True:
            found = self.buf.find(b"\n" + COPY_END, self.pos)
            if found >= 0:
                self.pos = found + 1 + len(COPY_END)
                return True
            self.pos = max(len(self.buf) - len(COPY_END), self.pos)  # may straddle chunks
            if not self._more():
                return False


def _identifier(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[1:-1].replace('""', '"') if text.startswith('"') else text


def plain_script(path: Path) -> tuple[str | None, set[str] | None]:
    """(a problem with a plain SQL script or None, the tables it holds COPY data of as
    ``schema name``); (None, None) when it cannot be read here (zstd/lz4: checksum only)."""
    if path.name.endswith((".zst", ".lz4")):
        return None, None  # no decompressor in the standard library
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return read_script(handle, path)


def read_script(handle: Any, path: object) -> tuple[str | None, set[str] | None]:
    """:func:`plain_script` of an open (decompressed) stream; ``path`` names it in problems."""
    tables: set[str] = set()
    complete = False
    reader = _ScriptReader(handle)
    head = b""
    while line := reader.readline():
        if len(head) < 4096:
            head += line
        if line.startswith(b"COPY "):
            match = COPY_RE.match(line)
            if match is None:
                return f"{path}: unreadable COPY statement {line[:120]!r}", None
            tables.add(f"{_identifier(match[1])} {_identifier(match[2])}")
            if not reader.skip_copy_data():
                break
        elif line.startswith(PLAIN_TRAILER):
            complete = True
    if PLAIN_HEADER not in head[:4096]:
        return f"{path}: does not start like a pg_dump SQL script", None
    if not complete:
        return f"{path}: no 'dump complete' trailer (truncated script)", None
    return None, tables


def toc_tables(listing: str) -> set[str]:
    """``schema name`` of every TABLE DATA entry of a ``pg_restore --list`` listing (the owner,
    the last word, left out)."""
    found = set()
    for line in listing.splitlines():
        match = TOC_DATA_RE.match(line)
        if match:
            rest = match[1]
            found.add(rest.rsplit(" ", 1)[0] if " " in rest else rest)
    return found


def _spellings(key: str) -> set[str]:
    """The ``schema name`` forms a ``schema.table`` key can stand for (either may hold dots)."""
    parts = key.split(".")
    return {".".join(parts[:i]) + " " + ".".join(parts[i:]) for i in range(1, len(parts))}


def coverage_problems(row_counts: dict[str, int], archive: set[str]) -> list[str]:
    """Tables with data in the archive (``schema name``) but no row count in the manifest, and
    counted tables the archive does not hold."""
    spelled = {key: _spellings(key) for key in row_counts}
    known = set().union(*spelled.values()) if spelled else set()
    problems = [
        f"table {t.replace(' ', '.', 1)!r} has data in the archive but no row count in the manifest"
        for t in sorted(archive - known)
    ]
    problems += [
        f"the manifest counts rows of {key!r}, which the archive does not hold"
        for key, forms in sorted(spelled.items())
        if not forms & archive
    ]
    return problems


def coverage_check(entry: BackupEntry, archive: set[str] | None) -> Check:
    name = "row counts cover the archive"
    if archive is None:
        return Check(name, True, "not checked: the script cannot be read here (zstd/lz4)")
    problems = coverage_problems(entry.manifest.row_counts, archive)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Check(name, False, f"corrupt manifest: {problems[0]}{more}")
    return Check(name, True, f"{len(archive)} tables with data, each counted in the manifest")


def content_checks(entry: BackupEntry, pg_bin: str | None) -> list[Check]:
    """Is the archive readable, and do the manifest's row counts cover exactly its tables?"""
    if entry.manifest.format == "plain":
        return script_checks(entry, *plain_script(entry.data_path))
    readable, tables = toc_check(entry, pg_bin)
    return [readable, coverage_check(entry, tables)] if readable.ok else [readable]


def script_checks(entry: BackupEntry, issue: str | None, tables: set[str] | None) -> list[Check]:
    """The checks of a plain script read by :func:`read_script`."""
    checks = [Check("sql header/trailer", issue is None, issue or "looks complete")]
    return [*checks, coverage_check(entry, tables)] if issue is None else checks


def content_problems(entry: BackupEntry, pg_bin: str | None = None) -> list[str]:
    """What a restore must refuse once the checksums passed: an unreadable archive, or row
    counts that do not cover exactly its tables."""
    return [c.detail for c in content_checks(entry, pg_bin) if not c.ok]


def manifest_check(entry: BackupEntry) -> Check:
    if entry.manifest.sealed:
        return Check("manifest", True, "digest ok, names only its own files")
    return Check(
        "manifest",
        True,
        "written before manifests carried a digest (version 1): nothing to check it against; "
        "recording this verification seals it",
    )


def toc_check(entry: BackupEntry, pg_bin: str | None) -> tuple[Check, set[str] | None]:
    """``pg_restore --list`` of a custom/directory archive (no connection needed), and the
    tables it holds data of."""
    manifest = entry.manifest
    choice = choose(
        max(manifest.pg_dump_major, 1), False, "pg_restore", pinned_path(pg_bin, "pg_restore")
    )
    if choice.binary is None:
        raise ExternalToolError(
            f"no pg_restore able to read a pg_dump {manifest.pg_dump_version} archive: "
            f"{choice.reason}",
            "install PostgreSQL client tools of that version or newer, or pass --pg-bin",
        )
    with tempfile.TemporaryDirectory(prefix="dbadmin-toc-") as tmp:
        listing = Path(tmp) / "toc.list"
        argv = [str(choice.binary.path), "--list", f"--file={listing}", str(entry.data_path)]
        result = run_tool(argv, tool_env(DbUrl()))
        if result.returncode != 0:
            detail = "; ".join(result.stderr_tail[-2:]) or f"exit {result.returncode}"
            return Check("pg_restore --list", False, f"{entry.data_path}: {detail}"), None
        tables = toc_tables(listing.read_text(encoding="utf-8", errors="replace"))
    readable = f"table of contents readable ({choice.binary.version})"
    return Check("pg_restore --list", True, readable), tables
