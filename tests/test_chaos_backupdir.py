"""Chaos: the backup directory is a trust boundary (issue 13, item 3).

Real backups are taken with `dbadmin backup` (custom, directory and plain formats) from a real
server, copied, and then tampered with as a hostile or careless hand would: paths pointing
outside (absolute, ``..``), another backup's data, symbolic links leaving the directory, edited,
truncated, unparsable or byte-flipped manifests, row counts that no longer cover the archive's
tables, a missing data file. After each fault `backup verify`, `restore` and `backup prune`
must exit 1 ("corrupt backup"), `backup list` must show it as CORRUPT without crashing, nothing
may be restored, and nothing may be deleted, inside the directory or outside it (sentinel files
outside are hashed before and after).

Path faults are resealed with a correct digest (as someone who knows the digest rule would):
each defence is proven on its own, not only by the digest that would catch an unsealed edit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Cli, PgServer
from test_backup import EXPECTED_ROWS, SCHEMA_SQL

from dbadmin.backup.manifest import LOCK_NAME, PARTIAL_MARK, scan
from dbadmin.backup.trust import DIGEST_KEY, seal
from dbadmin.errors import ExitCode

FORMATS = ("custom", "directory", "plain")


@dataclass(frozen=True)
class Pristine:
    """Two untouched backups, "old" and "new", per format (made once per module)."""

    root: Path
    source_url: str


@pytest.fixture(scope="module")
def pristine(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pristine]:
    source = pg_server.create_database()
    pg_server.execute(SCHEMA_SQL, source)
    root = tmp_path_factory.mktemp("pristine")
    url = pg_server.url(source).render()
    cli = Cli()
    try:
        for fmt in FORMATS:
            for name in ("old", "new"):
                res = cli("backup", "-F", fmt, "-d", url, "--dir", str(root / fmt), "--name", name)
                assert res.exit_code == 0, res.stderr
        yield Pristine(root, url)
    finally:
        pg_server.drop_database(source)


@pytest.fixture(scope="module")
def empty_target(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database()
    try:
        yield name
    finally:
        pg_server.drop_database(name)


@dataclass(frozen=True)
class Scene:
    fmt: str
    backups: Path  # a private copy of the pristine directory
    outside: Path  # a directory beside it, with a sentinel and copies of the backup's files
    data: Path  # the old backup's data (file or directory)
    victim: Path  # a copy of it outside the directory (same bytes, same sha256)

    @property
    def man(self) -> Path:
        return self.backups / "old.manifest.json"


def _scene(pristine: Pristine, fmt: str, tmp_path: Path) -> Scene:
    backups = tmp_path / "bk"
    shutil.copytree(pristine.root / fmt, backups, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel.txt").write_text("must survive every prune\n")
    data = backups / json.loads((backups / "old.manifest.json").read_text())["data"]
    victim = outside / data.name
    if data.is_dir():
        shutil.copytree(data, victim)
    else:
        shutil.copy2(data, victim)
    return Scene(fmt, backups, outside, data, victim)


def _tree(path: Path) -> dict[str, str]:
    """Every entry under ``path`` (links not followed) with a digest of what it is."""
    found = {}
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            item = Path(root) / name
            rel = str(item.relative_to(path))
            if rel == LOCK_NAME:  # holds the pid of the last run that took the lock
                continue
            if item.is_symlink():
                found[rel] = "-> " + os.readlink(item)
            elif item.is_file():
                found[rel] = hashlib.sha256(item.read_bytes()).hexdigest()
            else:
                found[rel] = "dir"
    return found


# --- the faults ----------------------------------------------------------------------------------
def _edit(scene: Scene, change: Callable[[dict], None], *, reseal: bool) -> None:
    doc = json.loads(scene.man.read_text())
    change(doc)
    scene.man.write_text(json.dumps(seal(doc) if reseal else doc, indent=2))


def _set(key: str, value: Callable[[Scene], object]) -> Callable[[Scene], None]:
    return lambda s: _edit(s, lambda d: d.__setitem__(key, value(s)), reseal=True)


def _first_file(value: Callable[[Scene], str]) -> Callable[[Scene], None]:
    def apply(s: Scene) -> None:
        def change(d: dict) -> None:
            d["files"][0]["path"] = value(s)

        _edit(s, change, reseal=True)

    return apply


def _symlink_data(s: Scene) -> None:
    data = s.data
    if data.is_dir():
        shutil.rmtree(data)
    else:
        data.unlink()
    data.symlink_to(s.victim)


def _symlink_file_in_directory_backup(s: Scene) -> None:
    inside = next(p for p in sorted(s.data.iterdir()) if p.name != "toc.dat")
    shutil.copy2(inside, s.outside / inside.name)
    inside.unlink()
    inside.symlink_to(s.outside / inside.name)  # same bytes: only the link gives it away


def _symlink_manifest(s: Scene) -> None:
    copy = s.outside / s.man.name
    shutil.copy2(s.man, copy)
    s.man.unlink()
    s.man.symlink_to(copy)


def _drop_table(s: Scene) -> None:
    _edit(s, lambda d: d["row_counts"].pop("public.orders"), reseal=True)


def _phantom_table(s: Scene) -> None:
    _edit(s, lambda d: d["row_counts"].__setitem__("public.ghost", 12), reseal=True)


def _edit_count(s: Scene) -> None:
    _edit(s, lambda d: d["row_counts"].__setitem__("public.orders", 4999), reseal=False)


def _truncate(s: Scene) -> None:
    raw = s.man.read_bytes()
    s.man.write_bytes(raw[: len(raw) // 2])


def _flip_byte(s: Scene) -> None:
    raw = bytearray(s.man.read_bytes())
    at = raw.index(b'"public.orders": ') + len(b'"public.orders": ')  # a digit of a count
    raw[at] ^= 0x01
    s.man.write_bytes(bytes(raw))


def _strip_digest(s: Scene) -> None:
    _edit(s, lambda d: d.pop(DIGEST_KEY), reseal=False)


FAULTS: dict[str, Callable[[Scene], None]] = {
    "absolute data path": _set("data", lambda s: str(s.victim)),
    "data path with ..": _set("data", lambda s: f"../{s.outside.name}/{s.victim.name}"),
    "data of another backup": _set(
        "data", lambda s: json.loads((s.backups / "new.manifest.json").read_text())["data"]
    ),
    "name not its own": _set("name", lambda s: "new"),
    "absolute file path": _first_file(lambda s: str(s.victim)),
    "file path with ..": _first_file(lambda s: f"../{s.outside.name}/sentinel.txt"),
    "data is a symlink out": _symlink_data,
    "file in backup is a symlink out": _symlink_file_in_directory_backup,
    "manifest is a symlink out": _symlink_manifest,
    "table removed from row_counts": _drop_table,
    "table added to row_counts": _phantom_table,
    "edited row count": _edit_count,
    "truncated manifest": _truncate,
    "unparsable manifest": lambda s: s.man.write_text("{not json"),
    "flipped byte in manifest": _flip_byte,
    "digest removed": _strip_digest,
    "missing data file": lambda s: shutil.rmtree(s.data) if s.data.is_dir() else s.data.unlink(),
}
CASES = [(fault, "custom") for fault in FAULTS if fault != "file in backup is a symlink out"]
CASES += [
    (fault, "directory")
    for fault in (
        "absolute file path", "file path with ..", "data is a symlink out",
        "file in backup is a symlink out", "table removed from row_counts", "missing data file",
    )
]  # fmt: skip
CASES += [
    (fault, "plain")
    for fault in ("data path with ..", "table removed from row_counts", "table added to row_counts")
]


@pytest.mark.parametrize(("fault", "fmt"), CASES)
def test_tampered_backup_is_refused_and_nothing_is_touched(
    fault: str,
    fmt: str,
    cli: Cli,
    pg_server: PgServer,
    pristine: Pristine,
    empty_target: str,
    tmp_path: Path,
) -> None:
    scene = _scene(pristine, fmt, tmp_path)
    outside_before = _tree(scene.outside)
    FAULTS[fault](scene)
    bk = str(scene.backups)

    listed = cli("backup", "list", "--dir", bk, "--json")
    assert listed.exit_code == 0, listed.stderr
    doc = listed.json()
    corrupt = {c["name"]: c["reason"] for c in doc["corrupt"]}  # type: ignore[index]
    table_fault = fault in ("table removed from row_counts", "table added to row_counts")
    symlink_inside = fault == "file in backup is a symlink out"
    if table_fault or symlink_inside:  # found by reading the archive (verify/restore), not list
        assert [b["name"] for b in doc["backups"]] == ["new", "old"], doc  # type: ignore[index]
    else:
        assert list(corrupt) == ["old"], doc
        assert [b["name"] for b in doc["backups"]] == ["new"]  # type: ignore[index]
        human = cli("backup", "list", "--dir", bk)
        assert (
            human.exit_code == 0 and "CORRUPT" in human.stdout and "corrupt backup" in human.stderr
        )

    verify = cli("backup", "verify", "old", "--dir", bk, "--json")
    print("\n##", fault, fmt, "|", verify.stderr, "|", listed.stdout[-300:])
    assert verify.exit_code == ExitCode.PROBLEM, (verify.stdout, verify.stderr)
    assert verify.stderr.count("\n") == 1 and "Traceback" not in verify.stderr
    if table_fault:
        assert "no row count in the manifest" in verify.stderr or "does not hold" in verify.stderr
    elif symlink_inside:
        assert "symbolic link" in verify.stderr
    else:
        assert "corrupt backup" in verify.stderr
    latest = cli("backup", "verify", "--latest", "--dir", bk)
    if not (table_fault or symlink_inside):  # the newest is sound, but one in the directory is not
        assert latest.exit_code == ExitCode.PROBLEM and "refusing to choose" in latest.stderr

    tables_before = pg_server.execute("SELECT count(*) FROM pg_class", empty_target)
    restore = cli(
        "restore", "old", "--dir", bk, "-d", pristine.source_url,
        "--target-url", pg_server.url(empty_target).render(), "--yes",
    )  # fmt: skip
    assert restore.exit_code == ExitCode.PROBLEM, (restore.stdout, restore.stderr)
    assert restore.stderr.count("\n") == 1
    assert pg_server.execute("SELECT count(*) FROM pg_class", empty_target) == tables_before

    inside_before = _tree(scene.backups)
    prune = cli("backup", "prune", "--keep", "0", "--yes", "--dir", bk)
    if table_fault or symlink_inside:
        # the manifest itself is sound (list/prune read manifests, not archives): prune may
        # delete "old" the normal way, but only inside the directory and never through a link
        assert prune.exit_code == 0, prune.stderr
        assert [b.name for b in scan(scene.backups).backups] == ["new"]
    else:
        assert prune.exit_code == ExitCode.PROBLEM, (prune.stdout, prune.stderr)
        assert "corrupt backup" in prune.stderr and "nothing was deleted" in prune.stderr
        assert _tree(scene.backups) == inside_before
    outside_after = _tree(scene.outside)  # the fault may have added copies; nothing may go
    assert {k: outside_after.get(k) for k in outside_before} == outside_before
    assert (scene.outside / "sentinel.txt").read_text() == "must survive every prune\n"
    assert scene.victim.exists()


def test_every_flipped_byte_of_a_manifest_is_caught(
    cli: Cli, pristine: Pristine, tmp_path: Path
) -> None:
    """A flipped bit anywhere in the manifest (keys, values, punctuation, whitespace) makes it
    corrupt: unparsable, or a document whose digest no longer matches."""
    scene = _scene(pristine, "custom", tmp_path)
    original = scene.man.read_bytes()
    step = max(len(original) // 40, 1)
    for at in range(0, len(original), step):
        raw = bytearray(original)
        raw[at] ^= 0x01
        scene.man.write_bytes(bytes(raw))
        res = cli("backup", "verify", "old", "--dir", str(scene.backups))
        assert res.exit_code == ExitCode.PROBLEM, (at, chr(original[at]), res.stderr)
        assert "corrupt backup" in res.stderr
    scene.man.write_bytes(original)
    assert cli("backup", "verify", "old", "--dir", str(scene.backups)).exit_code == 0


def test_a_manifest_from_before_digests_still_verifies_and_gets_sealed(
    cli: Cli, pristine: Pristine, tmp_path: Path
) -> None:
    """The rule for old backups: a version 1 manifest without a digest is read (its paths are
    checked all the same), verify says it had no digest, and recording the outcome seals it."""
    scene = _scene(pristine, "custom", tmp_path)
    _edit(scene, lambda d: (d.pop(DIGEST_KEY), d.update(manifest_version=1)), reseal=False)
    res = cli("backup", "verify", "old", "--dir", str(scene.backups), "--json")
    assert res.exit_code == 0, res.stderr
    check = {c["name"]: c for c in res.json()["checks"]}["manifest"]  # type: ignore[index]
    assert check["ok"] and "before manifests carried a digest" in check["detail"]
    sealed = json.loads(scene.man.read_text())
    assert sealed[DIGEST_KEY] and sealed["verification"]["ok"] is True
    assert cli("backup", "verify", "old", "--dir", str(scene.backups)).exit_code == 0
    # a legacy manifest cannot point outside either
    _edit(
        scene,
        lambda d: (d.pop(DIGEST_KEY), d.update(data=f"../{scene.outside.name}/old.dump")),
        reseal=False,
    )
    bad = cli("backup", "verify", "old", "--dir", str(scene.backups))
    assert bad.exit_code == ExitCode.PROBLEM and "not this backup's own file" in bad.stderr


def test_a_corrupt_newest_backup_is_not_silently_skipped_by_restore(
    cli: Cli, pg_server: PgServer, pristine: Pristine, empty_target: str, tmp_path: Path
) -> None:
    """`restore` without a name means the newest backup: if the newest is damaged, restoring
    the one before it without a word would be restoring stale data. Exit 1, nothing restored."""
    scene = _scene(pristine, "custom", tmp_path)
    (scene.backups / "new.manifest.json").write_text("{")
    before = pg_server.execute("SELECT count(*) FROM pg_class", empty_target)
    res = cli("restore", "--dir", str(scene.backups), "-d", pristine.source_url,
              "--target-url", pg_server.url(empty_target).render(), "--yes")  # fmt: skip
    assert res.exit_code == ExitCode.PROBLEM and "refusing to choose the newest" in res.stderr
    assert pg_server.execute("SELECT count(*) FROM pg_class", empty_target) == before
    named = cli("restore", "old", "--dir", str(scene.backups), "-d", pristine.source_url,
                "--target-url", pg_server.url(empty_target).render(), "--yes", "--json")  # fmt: skip
    assert named.exit_code == 0, named.stderr  # naming a sound backup still works
    assert named.json()["row_counts"] == EXPECTED_ROWS  # type: ignore[index]


def test_a_planted_lock_link_is_never_written_through(
    cli: Cli, pristine: Pristine, tmp_path: Path
) -> None:
    """The lock file replaced by a link to a file outside: backup and prune refuse to use it
    instead of truncating the file it points at."""
    scene = _scene(pristine, "custom", tmp_path)
    lock = scene.backups / ".dbadmin-backup.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(scene.outside / "sentinel.txt")
    res = cli("backup", "prune", "--keep", "0", "--yes", "--dir", str(scene.backups))
    assert res.exit_code == ExitCode.USAGE and "is a symbolic link" in res.stderr, res.stderr
    again = cli("backup", "-d", pristine.source_url, "--dir", str(scene.backups))
    assert again.exit_code == ExitCode.USAGE and "is a symbolic link" in again.stderr
    assert (scene.outside / "sentinel.txt").read_text() == "must survive every prune\n"
    assert [b.name for b in scan(scene.backups).backups] == ["new", "old"]


def test_planted_links_among_the_temporaries_are_removed_as_links(
    cli: Cli, pristine: Pristine, tmp_path: Path
) -> None:
    """Names prune removes as leftovers of killed runs, planted as links to a directory and a
    file outside: prune removes the links and nothing they point at."""
    scene = _scene(pristine, "directory", tmp_path)
    outside_before = _tree(scene.outside)
    dir_link = scene.backups / f".evil{PARTIAL_MARK}-999"
    file_link = scene.backups / f".evil.dump{PARTIAL_MARK}-998"
    dir_link.symlink_to(scene.outside, target_is_directory=True)
    file_link.symlink_to(scene.outside / "sentinel.txt")
    res = cli("backup", "prune", "--keep", "2", "--yes", "--dir", str(scene.backups), "--json")
    assert res.exit_code == 0, res.stderr
    assert sorted(res.json()["leftovers_removed"]) == sorted([str(dir_link), str(file_link)])  # type: ignore[index]
    assert not dir_link.is_symlink() and not file_link.is_symlink()
    assert _tree(scene.outside) == outside_before
    assert [b.name for b in scan(scene.backups).backups] == ["new", "old"]
