"""``slow-queries log --jobs N``: one large plain stderr log split into byte ranges, one worker
process per range, the partial results merged.

Workers are fresh interpreters (``python -m dbadmin.slowlog.parallel PATH START END ...``), never
forks of the calling process: forking a process that runs other threads (a web app or notebook
calling the API, the test runner) can copy a lock some thread holds and hang the child, and
Python 3.12+ warns about it. Unlike ``multiprocessing``'s spawn and forkserver, a worker started
this way does not re-import the caller's ``__main__`` either, so a script calling
``parse_logs(jobs=2)`` needs no ``if __name__ == "__main__":`` guard. A worker's inputs are a
path, two offsets and the prefix (argv); it writes its pickled partial result to stdout.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from dbadmin.errors import UsageError
from dbadmin.slowlog.accumulate import EXACT_SAMPLES, Accumulator
from dbadmin.slowlog.fingerprint import FingerprintCache
from dbadmin.slowlog.prefix import LinePrefix, prefix_to_regex
from dbadmin.slowlog.readers import FileState, parse_stderr


def parse_stderr_parallel(
    acc: Accumulator, path: Path, size: int, prefix: LinePrefix, jobs: int
) -> FileState:
    """Parse ``path`` in ``jobs`` worker processes and merge their results into ``acc``."""
    cuts = _boundaries(path, size, jobs)
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    workers = []
    for a, b in itertools.pairwise(cuts):
        argv = [str(path), str(a), str(b), prefix.text, repr(acc.min_ms), str(acc.n1.min_run),
                "1" if acc.epoch else "0"]  # fmt: skip
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "dbadmin.slowlog.parallel", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        )
    outputs = [w.communicate() for w in workers]  # all run at once; read one after the other
    total = FileState(prefix=prefix)
    for worker, (out, err) in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            raise UsageError(f"cannot read {path}: a --jobs worker failed: {last}", "use --jobs 1")
        part, state = pickle.loads(out)
        _merge(acc, part)
        total.lines += state.lines
        total.unparsed += state.unparsed
        if total.first_unparsed is None:
            total.first_unparsed = state.first_unparsed
    return total


def _boundaries(path: Path, size: int, jobs: int) -> list[int]:
    """Byte offsets that start an entry (a line not continuing the previous one)."""
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, jobs):
            f.seek(max(size * k // jobs, cuts[-1]))
            window = f.read(1 << 20)
            pos = 0
            while True:
                nl = window.find(b"\n", pos)
                if nl < 0 or nl + 1 >= len(window):
                    break
                if window[nl + 1] != 9:  # the next line is not a "\t" continuation
                    cut = f.tell() - len(window) + nl + 1
                    if cut > cuts[-1]:
                        cuts.append(cut)
                    break
                pos = nl + 1
    cuts.append(size)
    return cuts


def _rangehead_and_rest(path: Path, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        remaining = end - start
        carry = b""
        while remaining > 0:
            block = f.read(min(8 << 20, remaining))
            if not block:
                break
            remaining -= len(block)
            block = carry + block
            cut = block.rfind(b"\n") + 1
            carry = block[cut:]
            if cut:
                yield from io.BytesIO(block[:cut])
        if carry:
            yield carry


def parse_range(
    path: Path, start: int, end: int, prefix: LinePrefix, min_ms: float, min_run: int, epoch: bool
) -> tuple[Accumulator, FileState]:
    """One worker's share: the entries starting in ``[start, end)`` (an N+1 run cut by a range
    boundary counts as two shorter runs)."""
    acc = Accumulator(min_ms, min_run)
    acc.epoch = epoch
    state = parse_stderr(acc, _rangehead_and_rest(path, start, end), prefix)
    acc.finish()
    acc.cache = FingerprintCache()  # not needed by the parent: keep the pickle small
    acc.by_text = {}
    acc.by_key = {}
    acc.last_by_pid = {}
    acc.pending_stmt = {}
    acc.last_group = None
    acc.last_error = None
    return acc, state


def _merge(into: Accumulator, part: Accumulator) -> None:
    for fid, g in part.groups.items():
        mine = into.groups.get(fid)
        if mine is None:
            into.groups[fid] = g
            continue
        mine.count += g.count
        mine.total += g.total
        mine.max = max(mine.max, g.max)
        if g.example_ms > mine.example_ms:
            mine.example_ms, mine.example = g.example_ms, g.example
            mine.example_params = g.example_params
        mine.first = min(mine.first, g.first)
        mine.last = max(mine.last, g.last)
        for key, n in g.labels.items():
            mine.labels[key] = mine.labels.get(key, 0) + n
        if mine.hist is None and g.hist is None:  # both exact
            mine.samples.extend(g.samples)
            if len(mine.samples) > EXACT_SAMPLES:
                mine.to_hist()
        else:  # durations still pending on either side are folded in first
            mine.to_hist()
            g.to_hist()
            assert mine.hist is not None and g.hist is not None
            for k, n in g.hist.items():
                mine.hist[k] = mine.hist.get(k, 0) + n
    for kind_key, kind in part.error_kinds.items():
        mine_kind = into.error_kinds.get(kind_key)
        if mine_kind is None:
            into.error_kinds[kind_key] = kind
        else:
            mine_kind.merge(kind)
    for minute, (count, ms) in part.timeline.items():
        bucket = into.timeline.setdefault(minute, [0, 0.0])
        bucket[0] += count
        bucket[1] += ms
    for n1_key, found in part.n1.found.items():
        mine_found = into.n1.found.get(n1_key)
        if mine_found is None:
            into.n1.found[n1_key] = found
        else:
            mine_found.merge(found)
    into.errors += part.errors
    into.entries += part.entries
    into.no_statement += part.no_statement


def main(argv: list[str]) -> int:
    path, start, end, prefix, min_ms, min_run, epoch = argv
    result = parse_range(
        Path(path), int(start), int(end), prefix_to_regex(prefix), float(min_ms), int(min_run),
        epoch == "1",
    )  # fmt: skip
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
