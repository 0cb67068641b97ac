"""`schema docs`: documentation of a database's schema that a team commits, and a check that it
still matches the database (like ``tbls diff``).

``build`` reads the catalog and draws the overview diagrams; ``render_pages`` (docs_markdown)
turns that into Markdown pages; ``write`` puts them in a directory (only the files that changed,
each atomically; pages of objects that are gone are removed); ``check`` compares them with a
directory without writing and names what differs.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dbadmin.schema.docs_catalog import read_catalog
from dbadmin.schema.docs_markdown import INDEX, render_pages
from dbadmin.schema.docs_mermaid import Diagram, overview_diagrams
from dbadmin.schema.docs_model import AsDict, Catalog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dbadmin.settings import Settings

DEFAULT_OUT = Path("docs/schema")
MANAGED_FOLDERS = ("tables", "views", "types")  # with INDEX: what `write` may replace or remove
DIFF_LINES_PER_FILE = 12


@dataclass(frozen=True)
class SchemaDocs(AsDict):
    """The ``--format json`` document: the catalog and the overview diagrams."""

    catalog: Catalog
    diagrams: tuple[Diagram, ...]

    def pages(self, *, stats: bool = False) -> dict[str, str]:
        return render_pages(self.catalog, self.diagrams, stats=stats)


def build(settings: Settings, schemas: Sequence[str] = ()) -> SchemaDocs:
    catalog = read_catalog(settings, schemas)
    return SchemaDocs(catalog, overview_diagrams(catalog))


@dataclass(frozen=True)
class FileChange(AsDict):
    path: str
    status: str  # 'changed' | 'missing' (would be created) | 'stale' (would be removed)
    diff: tuple[str, ...]  # the first lines of a unified diff (changed pages)


@dataclass(frozen=True)
class DocsResult(AsDict):
    out: str
    pages: int
    changes: tuple[FileChange, ...]  # what was (write) or would be (check) changed

    @property
    def up_to_date(self) -> bool:
        return not self.changes


def existing_pages(out: Path) -> dict[str, str]:
    """The pages a previous run may have written in ``out`` (other files are left alone)."""
    found: dict[str, str] = {}
    if (out / INDEX).is_file():
        found[INDEX] = (out / INDEX).read_text(encoding="utf-8")
    for folder in MANAGED_FOLDERS:
        for path in sorted((out / folder).glob("*.md")) if (out / folder).is_dir() else ():
            found[f"{folder}/{path.name}"] = path.read_text(encoding="utf-8")
    return found


def compare(out: Path, pages: dict[str, str]) -> tuple[FileChange, ...]:
    """What differs between ``pages`` and the directory, in path order."""
    current = existing_pages(out)
    changes = []
    for path in sorted(set(pages) | set(current)):
        if path not in current:
            changes.append(FileChange(path, "missing", ()))
        elif path not in pages:
            changes.append(FileChange(path, "stale", ()))
        elif current[path] != pages[path]:
            changes.append(FileChange(path, "changed", _short_diff(current[path], pages[path])))
    return tuple(changes)


def _short_diff(old: str, new: str) -> tuple[str, ...]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), n=0, lineterm="")
    body = [line for line in lines if not line.startswith(("---", "+++", "@@"))]
    if len(body) > DIFF_LINES_PER_FILE:
        body = [*body[:DIFF_LINES_PER_FILE], f"... {len(body) - DIFF_LINES_PER_FILE} more lines"]
    return tuple(body)


def check(out: Path, pages: dict[str, str]) -> DocsResult:
    """Compare without writing anything."""
    return DocsResult(str(out), len(pages), compare(out, pages))


def write(out: Path, pages: dict[str, str]) -> DocsResult:
    """Write the pages that differ (atomically), remove pages of objects that are gone."""
    from dbadmin.files import OutputWriteError, write_atomically

    changes = compare(out, pages)
    target = out
    try:
        for change in changes:
            target = out / change.path
            if change.status == "stale":
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, pages[change.path])
        for folder in MANAGED_FOLDERS:  # a folder emptied by removals goes too
            target = out / folder
            if target.is_dir() and not any(target.iterdir()):
                os.rmdir(target)
    except OSError as exc:
        raise OutputWriteError(
            f"cannot write {target}: {exc.strerror or exc}",
            "check the output directory (--out) and its permissions",
        ) from None
    return DocsResult(str(out), len(pages), changes)
