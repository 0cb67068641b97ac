"""Output files that are never half-written: temporary file, fsync, rename.

Reports (`--html`, `--prometheus`), baselines (`explain --save`) are written to a temporary file in
the target's directory, flushed and fsynced, then renamed over the target (atomic on POSIX): a
reader sees the old file or the new one, never a part of one. A failed write (disk full, file size
limit, permissions) removes the temporary file and leaves the old file untouched.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from dbadmin.errors import DbadminError


class OutputWriteError(DbadminError):
    """The output file could not be written (disk full, file size limit, permissions)."""


def write_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` via a temporary file + fsync + rename in the same directory.

    These files hold query text and data (reports, baselines, metrics): a new file is 0600 (the
    temporary file already is, so no other user can open it between create and rename), and a
    replaced file keeps its mode, so a ``chmod`` an administrator made (e.g. for node_exporter
    to read a Prometheus file) survives the next run. ``mode`` overrides both."""
    path = Path(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0o600
    folder = path.parent  # Path("x").parent is Path(".")
    if not folder.is_dir():
        raise OutputWriteError(
            f"cannot write {path}: directory {folder} does not exist", "create it first"
        )
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputWriteError(
            f"cannot write {path}: {exc.strerror or exc}", "check the directory's permissions"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputWriteError(
                f"cannot write {path}: {exc.strerror or exc}; the previous file was left as it was",
                "check free space, file size limits and permissions",
            ) from None
        raise
