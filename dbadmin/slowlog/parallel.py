"""``slow-queries log --jobs N``: one large plain log (stderr, csvlog or jsonlog) split into
byte ranges, one worker process per range, the partial results merged.

Workers are fresh interpreters (``python -m dbadmin.slowlog.parallel PATH START END ...``), never
forks of the calling process: forking a process that runs other threads (a web app or notebook
calling the API, the test runner) can copy a lock some thread holds and hang the child, and
Python 3.12+ warns about it. Unlike ``multiprocessing``'s spawn and forkserver, a worker started
this way does not re-import the caller's ``__main__`` either, so a script calling
``parse_logs(jobs=2)`` needs no ``if __name__ == "__main__":`` guard. A worker's inputs are a
path, two offsets, the format and the prefix (argv); it writes its pickled partial result to
stdout.

Where a range may start: stderr at a line that does not continue the entry before it (``\t``,
a ``DETAIL``/``STATEMENT``... line), jsonlog at any line (one entry per line), csvlog at a line
that looks like the start of a row. A csvlog row can hold a line that looks like one (a
multi-line statement quoting a log line): a worker whose range then ends inside a quoted field
says so, and the file is read in one process.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dbadmin.errors import UsageError
from dbadmin.slowlog.accumulate import (
    EXACT_SAMPLES,
    MAX_LABELS,
    Accumulator,
    PendingPlan,
    digest,
    squash,
)
from dbadmin.slowlog.fingerprint import FingerprintCache
from dbadmin.slowlog.prefix import LinePrefix, prefix_to_regex
from dbadmin.slowlog.readers import CSV_RE, FileState, parse_csv, parse_json, parse_stderr


def parse_parallel(
    acc: Accumulator, path: Path, size: int, fmt: str, prefix: LinePrefix | None, jobs: int
) -> FileState | None:
    """Parse ``path`` in ``jobs`` worker processes and merge their results into ``acc``; None
    (``acc`` untouched) when a csvlog range boundary fell inside a quoted field, or between an
    auto_explain plan and the statement that decides whether it is a query of its own."""
    cuts = _boundaries(path, size, jobs, _RANGE_START[fmt])
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    workers = []
    for a, b in itertools.pairwise(cuts):
        argv = [str(path), str(a), str(b), fmt, prefix.text if prefix else "", repr(acc.min_ms),
                str(acc.n1.min_run), "1" if acc.epoch else "0"]  # fmt: skip
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
    parts: list[tuple[Accumulator, FileState]] = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            raise UsageError(f"cannot read {path}: a --jobs worker failed: {last}", "use --jobs 1")
        parts.append(pickle.loads(out))
    if any(state.ends_inside_row or state.plan_pending for _, state in parts[:-1]):
        return None  # a quoted field, or a plan waiting for its statement, across a boundary
    if _plan_of_a_statement_before(parts):
        return None
    total = FileState(prefix=prefix)
    carry = _Carry(statements=acc.pending_stmt)  # the files before (a rotated log) and after
    for part, state in parts:
        _merge(acc, part)
        carry.pair(acc, part)
        total.lines += state.lines
        total.unparsed += state.unparsed
        if total.first_unparsed is None:
            total.first_unparsed = state.first_unparsed
    carry.finish(acc)
    return total


# the lines an entry's message goes on with in stderr (the same write, right after it): a
# STATEMENT cut from its ERROR, or a DETAIL from its execute line, would lose its entry
_SECONDARY = (b"DETAIL:  ", b"HINT:  ", b"CONTEXT:  ", b"STATEMENT:  ", b"QUERY:  ", b"LOCATION:  ")


def _not_a_continuation(line: bytes) -> bool:
    return not line.startswith(b"\t") and not any(s in line for s in _SECONDARY)


def _any_line(line: bytes) -> bool:
    return True


def _looks_like_a_row(line: bytes) -> bool:
    return CSV_RE.match(line) is not None


_RANGE_START: dict[str, Callable[[bytes], bool]] = {
    "stderr": _not_a_continuation,
    "jsonlog": _any_line,
    "csvlog": _looks_like_a_row,
}


_PLAN = b" ms  plan:"  # an auto_explain entry's first line, in every format


def _boundaries(path: Path, size: int, jobs: int, starts: Callable[[bytes], bool]) -> list[int]:
    """Byte offsets, each at the start of a line ``starts`` accepts (the first one after each
    of ``jobs - 1`` equal parts, not right after an auto_explain plan: its statement's duration
    line comes next, and a plan waiting across a boundary sends the file to one process), plus
    0 and ``size``."""
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, jobs):
            at = max(size * k // jobs, cuts[-1])
            start = max(at - (1 << 16), 0)  # from a little before: the entry ``at`` is in
            f.seek(start)
            window = f.read((1 << 20) + at - start)
            pos = window.find(b"\n") + 1 if start else 0
            after_plan = False
            while (pos or not start) and pos < len(window):
                end = window.find(b"\n", pos)
                if end < 0:
                    break  # the line goes on past the window: no cut here
                line = window[pos : end + 1]
                if starts(line):
                    if start + pos > max(at, cuts[-1]) and not after_plan:
                        cuts.append(start + pos)
                        break
                    after_plan = _PLAN in line
                pos = end + 1
    cuts.append(size)
    return cuts


def _range_lines(path: Path, start: int, end: int) -> Iterator[bytes]:
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
    path: Path,
    start: int,
    end: int,
    fmt: str,
    prefix: LinePrefix | None,
    min_ms: float,
    min_run: int,
    epoch: bool,
) -> tuple[Accumulator, FileState]:
    """One worker's share: the entries starting in ``[start, end)`` (an N+1 run cut by a range
    boundary counts as two shorter runs)."""
    acc = Accumulator(min_ms, min_run)
    acc.epoch = epoch
    lines = _range_lines(path, start, end)
    if fmt == "csvlog":
        state = parse_csv(acc, lines)
    elif fmt == "jsonlog":
        state = parse_json(acc, lines)
    else:
        assert prefix is not None
        state = parse_stderr(acc, lines, prefix)
    # a plan between a statement line and its duration in the next range: decided there
    acc.carried_plans = {
        p: acc.pending_plan.pop(p) for p in acc.pending_stmt if p in acc.pending_plan
    }
    state.plan_pending = bool(acc.pending_plan)
    acc.last_by_pid = {p: digest(squash(sql)) for p, sql in acc.last_by_pid.items()}
    acc.finish()
    acc.cache = FingerprintCache()  # not needed by the parent: keep the pickle small
    acc.by_text = {}
    acc.by_key = {}
    acc.last_group = None
    acc.last_error = None
    return acc, state


def _plan_of_a_statement_before(parts: list[tuple[Accumulator, FileState]]) -> bool:
    """Whether a range's plan was logged for the statement its session logged last in an
    earlier range (the extended protocol logs the plan after the execute line): one process
    would not count it, its worker did. Workers hand ``last_by_pid`` and ``head_plans`` as
    digests of the squashed texts."""
    last: dict[bytes, bytes] = {}
    for k, (part, _) in enumerate(parts):
        if k and part.head_plans is None:
            return True  # too many to tell
        if k and any(last.get(pid) == text for pid, text in part.head_plans or ()):
            return True
        last.update(part.last_by_pid)
    return False


@dataclass
class _Carry:
    """What a range leaves for the next one: statement lines waiting for their bare duration
    (log_statement + log_duration), and the auto_explain plans logged between the two."""

    statements: dict[bytes, bytes] = field(default_factory=dict)
    plans: dict[bytes, PendingPlan] = field(default_factory=dict)

    def pair(self, acc: Accumulator, part: Accumulator) -> None:
        """A session's statement line at the end of one range and its duration at the start of
        ``part`` make one query (its plan, when the texts match, no other), as in one process."""
        if part.paired is None:  # the worker gave up telling first durations apart
            self.statements.clear()
        for pid, (ms, ts, user, db, app, detail) in part.orphans.items():
            sql = self.statements.pop(pid, None)
            if sql is not None:
                acc.no_statement -= 1
                plan = self.plans.pop(pid, None)
                if plan is not None:
                    acc.pending_plan[pid] = plan  # resolved against this statement
                acc.statement(sql, ms, ts, pid, user, db, app, detail)
        for pid in itertools.chain(part.paired or (), part.orphans):
            self.statements.pop(pid, None)  # replaced inside this range
        for pid in [pid for pid in self.plans if pid not in self.statements]:
            acc.record(*self.plans.pop(pid))  # its statement went elsewhere: a query of its own
        self.statements.update(part.pending_stmt)
        self.plans.update(part.carried_plans)

    def finish(self, acc: Accumulator) -> None:
        for plan in self.plans.values():
            acc.record(*plan)


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
            if key in mine.labels:
                mine.labels[key] += n
            elif len(mine.labels) < MAX_LABELS * 4:  # the cap of one process
                mine.labels[key] = n
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
    for kind in part.error_kinds.values():
        into.error_kind(kind.severity, kind.message).merge(kind)  # the caps of one process
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
    path, start, end, fmt, prefix, min_ms, min_run, epoch = argv
    result = parse_range(
        Path(path), int(start), int(end), fmt, prefix_to_regex(prefix) if fmt == "stderr" else None,
        float(min_ms), int(min_run), epoch == "1",
    )  # fmt: skip
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
