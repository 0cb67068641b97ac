"""A backup directory is a trust boundary: what a manifest may name, and how it seals itself.

A manifest is data read from disk, not an instruction. Before dbadmin hashes, restores or
deletes anything a manifest names, the manifest must:

- parse as a JSON object and pass its own digest (``manifest_sha256``: sha256 of the document
  without that key, serialized with sorted keys and no whitespace, UTF-8), so an edited,
  truncated or damaged manifest is "corrupt backup" (exit 1) rather than a list of wrong
  expectations. Manifests written before digests existed (``manifest_version`` 1 without the
  key) stay readable and are reported as unsealed; a version 2 manifest without it is corrupt;
- name only its own files: ``name`` is the manifest file's own stem, ``data`` is the one data
  name that dbadmin gives that name in that format (``NAME.dump``, ``NAME/``, ``NAME.sql[.gz]``),
  and every ``files`` path is relative, normalized and without ``..``: nothing can point outside
  the directory, nor at another backup's data (which a prune of this one would then delete).

The digest detects damage and edits; it is not a signature (whoever can write the directory can
recompute a sha256). Symbolic links are refused where the files live (see ``manifest.open_entry``
and ``integrity.checksum_problems``): a backup is made of regular files in its own directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from dbadmin.errors import ProblemFound

DIGEST_KEY = "manifest_sha256"
LEGACY_VERSION = 1  # manifests from before the digest: readable, reported as unsealed
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
PLAIN_SUFFIXES = (".sql", ".sql.gz", ".sql.zst", ".sql.lz4")


class CorruptBackup(ProblemFound):
    """A backup whose manifest or files cannot be trusted (exit 1, nothing done with it)."""


def corrupt(where: object, what: str) -> CorruptBackup:
    return CorruptBackup(
        f"corrupt backup: {where}: {what}",
        "nothing was done with it; use another backup (`dbadmin backup list`), and move this "
        "one out of the backup directory once you have looked at it",
    )


def manifest_digest(doc: dict[str, Any]) -> str:
    """sha256 of the canonical form of ``doc`` without its own digest."""
    body = {k: v for k, v in doc.items() if k != DIGEST_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its digest as the last key (any old digest replaced)."""
    body = {k: v for k, v in doc.items() if k != DIGEST_KEY}
    return {**body, DIGEST_KEY: manifest_digest(body)}


def check_seal(doc: dict[str, Any], where: object) -> bool:
    """True when sealed and intact, False for a legacy (unsealed version 1) manifest; raises
    :class:`CorruptBackup` otherwise."""
    digest = doc.get(DIGEST_KEY)
    if digest is None:
        version = doc.get("manifest_version", LEGACY_VERSION)
        if version == LEGACY_VERSION:
            return False
        raise corrupt(where, f"manifest version {version!r} without its digest ({DIGEST_KEY})")
    if digest != manifest_digest(doc):
        raise corrupt(where, "the manifest fails its own digest (edited, truncated or damaged)")
    return True


def data_names(name: str, fmt: str) -> tuple[str, ...]:
    """The data names dbadmin gives backup ``name`` in format ``fmt`` (see create.data_name)."""
    if fmt == "directory":
        return (name,)
    if fmt == "custom":
        return (f"{name}.dump",)
    if fmt == "plain":
        return tuple(name + suffix for suffix in PLAIN_SUFFIXES)
    return ()


def stem_of(manifest_file_name: str, suffix: str) -> str:
    return manifest_file_name[: -len(suffix)] if manifest_file_name.endswith(suffix) else ""


def check_layout(
    *, own_stem: str, name: str, fmt: str, data: str, paths: Iterable[str], where: object
) -> None:
    """Raise :class:`CorruptBackup` unless the manifest names only its own files."""
    if not NAME_RE.match(name) or name != own_stem:
        raise corrupt(where, f"names backup {name!r}, not its own file's name {own_stem!r}")
    allowed = data_names(name, fmt)
    if not allowed:
        raise corrupt(where, f"unknown format {fmt!r}")
    if data not in allowed:
        raise corrupt(
            where, f"data {data!r} is not this backup's own file ({' or '.join(allowed)})"
        )
    listed = list(paths)
    if fmt != "directory":
        if listed != [data]:
            raise corrupt(where, f"a {fmt} backup has one file, {data!r}; manifest lists {listed}")
        return
    if not listed:
        raise corrupt(where, "a directory backup without files")
    if len(set(listed)) != len(listed):
        raise corrupt(where, "a file is listed twice")
    for path in listed:
        problem = relative_path_problem(path)
        if problem:
            raise corrupt(where, f"file path {path!r} {problem}")


def relative_path_problem(path: str) -> str | None:
    """Why ``path`` is not a plain relative path inside its directory, or None."""
    if not isinstance(path, str) or not path:
        return "is empty"
    if "\\" in path or "\x00" in path:
        return "holds a backslash or NUL"
    pure = PurePosixPath(path)
    if pure.is_absolute():
        return "is absolute (points outside the backup)"
    if any(part in ("..", ".") for part in path.split("/")) or str(pure) != path:
        return "is not a normalized relative path (points outside the backup)"
    return None
