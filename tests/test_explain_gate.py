"""A regression gate that does not cry wolf (issue 15, items 4 and 5): --save records the median
of --runs N (5 by default) and the buffers touched; --compare judges the plan shape, the buffers
and the time beyond a relative limit and an absolute floor taken from the measured spread; and
--runs reports p50/p95 with --p95-target as the exit criterion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Cli
from test_explain import APP_ROWS, BIG, NO_PARALLEL, run_sql

from dbadmin.errors import ExitCode
from dbadmin.explain.analyze import PlanAnalysis
from dbadmin.explain.compare import compare_plans
from dbadmin.explain.timing import RunStats, parse_duration_ms, percentile, run_stats
from dbadmin.urls import DbUrl

QUERY = "SELECT status, count(*) FROM big WHERE n < 500 GROUP BY status"


def test_twenty_compares_with_nothing_changed_raise_no_alarm(
    cli: Cli, fresh_db: DbUrl, tmp_path: Path
) -> None:
    """The issue's case: --compare right after --save failed 1 run in 4 on a busy machine."""
    run_sql(fresh_db, BIG)
    url = fresh_db.render()
    base = tmp_path / "base.json"
    res = cli("explain", "-d", url, *NO_PARALLEL, QUERY, "--save", str(base))
    assert res.exit_code == 0, res.stderr
    timing = json.loads(base.read_text())["timing"]
    assert timing["runs"] == 5 and len(timing["samples"]) == 5
    assert timing["p50"] == sorted(timing["samples"])[2] and timing["buffers"] > 0
    failures = []
    for _ in range(20):
        res = cli("explain", "-d", url, *NO_PARALLEL, "--compare", str(base), "--json")
        if res.exit_code != 0:
            failures.append(res.stderr)
        else:
            comparison = res.json()["comparison"]  # type: ignore[index]
            assert comparison["runs"] == [5, 5] and comparison["buffers_grew"] is False
            assert comparison["noise_floor"] >= 1.0  # never below --min-regression-ms
    assert failures == []


def test_the_gate_still_catches_a_real_regression(
    cli: Cli, fresh_db: DbUrl, tmp_path: Path
) -> None:
    run_sql(fresh_db, BIG + "CREATE INDEX ix_big_n ON big (n); ANALYZE big;")
    url = fresh_db.render()
    base = tmp_path / "base.json"
    sql = "SELECT id FROM big WHERE n = 7"
    assert cli("explain", "-d", url, *NO_PARALLEL, sql, "--save", str(base)).exit_code == 0
    run_sql(fresh_db, "DROP INDEX ix_big_n")
    res = cli("explain", "-d", url, *NO_PARALLEL, "--compare", str(base), "--json")
    assert res.exit_code == ExitCode.PROBLEM
    comparison = res.json()["comparison"]  # type: ignore[index]
    assert comparison["shape_changed"] and comparison["buffers_grew"]
    assert "pages (limit +20%)" in res.stderr


def _stats(samples: list[float], buffers: int = 1000) -> RunStats:
    spread = 1.4826 * sorted(abs(x - percentile(samples, 0.5)) for x in samples)[len(samples) // 2]
    return RunStats(
        "execution_ms",
        tuple(samples),
        percentile(samples, 0.5),
        percentile(samples, 0.95),
        spread,
        buffers,
        0,
    )


def _baseline(stats: RunStats) -> dict[str, object]:
    return {"nodes": [], "execution_ms": stats.p50, "timing": stats.as_dict()}


@pytest.mark.parametrize(
    ("current", "slower"),
    [
        ([10.2, 14.9, 10.6, 12.5, 10.1], False),  # +13 % on the median, within the noise
        ([12.3, 12.9, 16.8, 12.6, 13.1], False),  # +21 %, but 2.6 ms < 3 sigmas of the spread
        ([25.0, 24.1, 26.3, 25.5, 24.8], True),  # 2.3x: beyond both limits
    ],
)
def test_time_counts_only_beyond_relative_and_spread_limits(
    current: list[float], slower: bool
) -> None:
    baseline = _stats([10.4, 11.9, 9.8, 10.7, 13.5])
    empty = PlanAnalysis(
        source="t", query_text=None, server_version=None, analyzed=True, planning_ms=None,
        execution_ms=percentile(current, 0.5), total_ms=None, jit_ms=None, trigger_ms=None,
        total_cost=None, nodes=(), findings=(),
    )  # fmt: skip
    comparison = compare_plans(_baseline(baseline), empty, stats=_stats(current))
    assert comparison.slower is slower
    assert comparison.noise_floor >= 1.0
    assert comparison.baseline_total == pytest.approx(10.7)


def test_run_stats_and_durations() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert percentile([7.0], 0.95) == 7.0
    assert [parse_duration_ms(t) for t in ("50ms", "0.5ms", "2s", "250us", "12")] == [
        50.0, 0.5, 2000.0, 0.25, 12.0,
    ]  # fmt: skip
    with pytest.raises(Exception, match="is not a duration"):
        parse_duration_ms("fast")
    with pytest.raises(ValueError):
        run_stats([])


def test_all_runs_report_p50_p95_and_the_target_sets_the_exit_code(cli: Cli, app_db: DbUrl) -> None:
    run_sql(app_db, APP_ROWS)
    url = app_db.render()
    res = cli("explain", "-d", url, "--all", "--runs", "3", "--json")  # default target 50ms
    assert res.exit_code == 0, res.stderr
    results = res.json()["queries"]  # type: ignore[index]
    for r in results:
        assert r["error"] is None and r["runs"] == 3
        assert 0 < r["p50_ms"] <= r["p95_ms"] < 50 and r["over_target"] is None
    res = cli("explain", "-d", url, "--all", "--runs", "3", "--p95-target", "1us")
    assert res.exit_code == ExitCode.PROBLEM
    assert f"{len(results)} catalog queries over the p95 target" in res.stderr
    assert "exceeds --p95-target 0.001 ms" in res.stderr
    assert "p50" in res.stdout and "p95" in res.stdout  # the table shows both
    res = cli("explain", "-d", url, "--query", "chat_history", "--runs", "2", "--p95-target", "1us")
    assert res.exit_code == ExitCode.PROBLEM and "over 2 runs" in res.stderr
    res = cli("explain", "-d", url, "--all", "--p95-target", "soon")
    assert res.exit_code == ExitCode.USAGE and "is not a duration" in res.stderr
