"""``explain_catalog``: every catalog query explained at once, each compared with (and/or saved
as) its own baseline ``DIR/NAME.json``; a failed query is recorded, not raised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.api.plans import Run, capture, over_target, run_options, settings_args
from dbadmin.api.target import Notice, say, settings_for
from dbadmin.errors import ProblemFound, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dbadmin.settings import Settings


@dataclass(frozen=True)
class CatalogQueryRun:
    """One catalog query's outcome: ``error`` (its one line) or its figures and findings."""

    name: str
    error: str | None = None
    exit_code: int | None = None  # of the error
    comparison: dict[str, Any] | None = None
    regression: tuple[str, ...] = ()
    execution_ms: float | None = None
    planning_ms: float | None = None
    runs: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    over_target: str | None = None
    total_cost: float | None = None
    slowest_node: str | None = None
    slowest_share: float | None = None
    findings: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"name": self.name, "error": self.error, "exit_code": self.exit_code}
        return {
            "name": self.name,
            "error": None,
            "comparison": self.comparison,
            "regression": list(self.regression),
            "execution_ms": self.execution_ms,
            "planning_ms": self.planning_ms,
            "runs": self.runs,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "over_target": self.over_target,
            "total_cost": self.total_cost,
            "slowest_node": self.slowest_node,
            "slowest_share": self.slowest_share,
            "findings": [dict(f) for f in self.findings],
        }


@dataclass(frozen=True)
class CatalogReport:
    queries: tuple[CatalogQueryRun, ...]
    compare_dir: Path | None = None

    def problem(self) -> ProblemFound | None:
        """Failed queries first, then regressions, then p95 targets exceeded (exit 1)."""
        errors = [q for q in self.queries if q.error]
        if errors:
            return ProblemFound(
                f"{len(errors)} of {len(self.queries)} catalog queries failed: "
                + ", ".join(q.name for q in errors),
                "run one with --query NAME to see the whole error",
            )
        regressed = [q for q in self.queries if q.regression]
        if regressed:
            return ProblemFound(
                "regression against the baselines in "
                + str(self.compare_dir)
                + ": "
                + "; ".join(f"{q.name}: {q.regression[0]}" for q in regressed)
            )
        slow = [q for q in self.queries if q.over_target]
        if slow:
            return ProblemFound(
                f"{len(slow)} catalog quer{'y' if len(slow) == 1 else 'ies'} over the p95 target: "
                + "; ".join(f"{q.name}: {q.over_target}" for q in slow),
                "see the findings of each (dbadmin explain --query NAME)",
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"queries": [q.as_dict() for q in self.queries]}


def explain_catalog(
    target: Settings | str | None = None,
    *,
    no_analyze: bool = False,
    timeout: float = 30.0,
    allow_side_effects: bool = False,
    set_options: Sequence[str] | Mapping[str, str] | None = None,
    runs: int | None = None,
    p95_target: str | float | None = None,  # ms, or a duration text (50ms, 0.5s)
    save_dir: Path | None = None,
    compare_dir: Path | None = None,
    max_regression: float = 20.0,
    min_regression_ms: float = 1.0,
    fail_on_shape_change: bool = False,
    notice: Notice | None = None,
) -> CatalogReport:
    """EXPLAIN every catalog query with its default parameters; ``save_dir``/``compare_dir``
    hold one ``NAME.json`` baseline per query. ``report.problem()`` says whether any failed,
    regressed or exceeded the p95 target."""
    from dbadmin.explain import catalog
    from dbadmin.explain.capture import prepare_query

    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if compare_dir is not None and not compare_dir.is_dir():
        raise UsageError(
            f"--compare {compare_dir} is not a directory",
            "with --all, --save DIR and --compare DIR hold one NAME.json per catalog query",
        )
    count, p95 = run_options(
        runs, p95_target, save_dir is not None or compare_dir is not None, no_analyze, timeout
    )
    run = Run(
        no_analyze, False, timeout, settings_args(set_options), allow_side_effects, count, p95
    )
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    entries = catalog.list_queries()
    prepared = [prepare_query(e.sql, specs=e.params, name=e.name) for e in entries]
    settings = settings_for(target)
    results = [
        _one(settings, entry.name, item, run, save_dir, compare_dir, max_regression,
             min_regression_ms, fail_on_shape_change)
        for entry, item in zip(entries, prepared, strict=True)
    ]  # fmt: skip
    if save_dir is not None:
        say(notice, f"baselines saved to {save_dir}/NAME.json")
    return CatalogReport(tuple(results), compare_dir)


def _one(
    settings: Settings,
    name: str,
    item: Any,
    run: Run,
    save_dir: Path | None,
    compare_dir: Path | None,
    max_regression: float,
    min_regression_ms: float,
    fail_on_shape_change: bool,
) -> CatalogQueryRun:
    from dbadmin.errors import OperationTimeout, SqlError
    from dbadmin.explain.compare import compare_plans, load_baseline, save_baseline

    try:
        analysis, stats = capture(settings, item, run)
    except (SqlError, UsageError, OperationTimeout) as exc:
        return CatalogQueryRun(name, error=exc.one_line(), exit_code=int(exc.exit_code))
    slowest = max(analysis.nodes, key=lambda n: n.share or 0.0)
    comparison: dict[str, Any] | None = None
    regression: list[str] = []
    if compare_dir is not None:
        path = compare_dir / f"{name}.json"
        if path.exists():
            compared = compare_plans(
                load_baseline(path),
                analysis,
                max_regression=max_regression / 100.0,
                min_delta_ms=min_regression_ms,
                stats=stats,
            )
            comparison = compared.as_dict()
            regression = compared.failures(fail_on_shape_change=fail_on_shape_change)
    if save_dir is not None:
        save_baseline(analysis, save_dir / f"{name}.json", stats=stats)
    timed = stats.metric == "execution_ms"
    return CatalogQueryRun(
        name,
        comparison=comparison,
        regression=tuple(regression),
        execution_ms=analysis.execution_ms,
        planning_ms=analysis.planning_ms,
        runs=stats.runs,
        p50_ms=stats.p50 if timed else None,
        p95_ms=stats.p95 if timed else None,
        over_target=over_target(stats, run),
        total_cost=analysis.total_cost,
        slowest_node=slowest.label,
        slowest_share=slowest.share,
        findings=tuple(
            {
                "kind": f.kind,
                "severity": f.severity,
                "node_id": f.node_id,
                "title": f.title,
                "action": f.action,
            }
            for f in analysis.findings
        ),
    )
