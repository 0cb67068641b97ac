"""EXPLAIN from Python: ``explain`` (one statement, or a plan captured elsewhere),
``explain_catalog`` (every catalog query, with baselines per query) and ``catalog_queries``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadmin.api.target import Notice, say, settings_for
from dbadmin.errors import ProblemFound, UsageError

if TYPE_CHECKING:
    from dbadmin.explain.analyze import PlanAnalysis
    from dbadmin.explain.capture import PreparedQuery
    from dbadmin.explain.catalog import CatalogQuery
    from dbadmin.explain.compare import PlanComparison
    from dbadmin.explain.timing import RunStats
    from dbadmin.settings import Settings

DEFAULT_P95_TARGET_MS = 50.0  # the application's stated target


@dataclass(frozen=True)
class Run:
    """How each statement is run on the server (the Execution options)."""

    no_analyze: bool = False
    wal: bool = False
    timeout: float = 30.0
    set_options: Mapping[str, str] = field(default_factory=dict)
    allow_side_effects: bool = False
    runs: int = 1
    p95_target_ms: float | None = None  # checked when set (a problem above it)


def run_options(
    runs: int | None,
    p95_target: str | float | None,
    baseline: bool,
    no_analyze: bool,
    timeout: float,
) -> tuple[int, float | None]:
    """(runs, p95 target in ms or None when not checked): 5 runs by default against a baseline,
    and the default target judged whenever several runs were asked for."""
    from dbadmin.explain.timing import parse_duration_ms

    if runs is not None and not 1 <= runs <= 1000:
        raise UsageError("--runs must be between 1 and 1000")
    count = runs if runs is not None else (5 if baseline and not no_analyze else 1)
    target = parse_duration_ms(p95_target) if isinstance(p95_target, str) else p95_target
    if target is None and runs is not None and runs > 1:  # asked for a p95: judge it
        target = DEFAULT_P95_TARGET_MS
    if timeout * count > 3600:
        raise UsageError("--runs x --timeout exceeds an hour", "lower --runs or --timeout")
    return count, target


def settings_args(values: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``NAME=VALUE`` items (or a mapping) to SET LOCAL for a run."""
    if isinstance(values, Mapping):
        return {str(k): str(v) for k, v in values.items()}
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item!r} is not NAME=VALUE", "e.g. --set work_mem=64MB")
        out[name.strip()] = value.strip()
    return out


def capture(settings: Settings, prepared: PreparedQuery, run: Run) -> tuple[PlanAnalysis, RunStats]:
    """``run.runs`` EXPLAINs in one session: the run closest to the median is the one reported."""
    from dbadmin.explain.analyze import analyze_plan
    from dbadmin.explain.capture import capture_runs
    from dbadmin.explain.timing import run_stats

    documents = capture_runs(
        settings,
        prepared,
        runs=run.runs,
        analyze=not run.no_analyze,
        wal=run.wal,
        timeout_s=run.timeout,
        set_options=dict(run.set_options),
        allow_side_effects=run.allow_side_effects,
    )
    analyses = [analyze_plan(d) for d in documents]
    stats = run_stats(analyses)
    analysis = analyses[stats.representative]
    if not prepared.generic:
        from dbadmin.explain.hypo import verify_index_proposals

        analysis = verify_index_proposals(
            settings, analysis, timeout_s=run.timeout, set_options=dict(run.set_options)
        )
    return analysis, stats


def over_target(stats: RunStats, run: Run) -> str | None:
    """The failure line when the p95 exceeds the target (execution time only)."""
    if run.p95_target_ms is None or stats.metric != "execution_ms":
        return None
    if stats.p95 <= run.p95_target_ms:
        return None
    return (
        f"p95 {stats.p95:.3f} ms over {stats.runs} runs exceeds --p95-target "
        f"{run.p95_target_ms:g} ms (p50 {stats.p50:.3f} ms)"
    )


# --- one statement --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExplainReport:
    """One analysed plan: findings, the timing of several runs, the comparison with a baseline."""

    analysis: PlanAnalysis
    query_name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    comparison: PlanComparison | None = None
    stats: RunStats | None = None
    failures: tuple[str, ...] = ()  # regressions against the baseline
    over_target: str | None = None  # the p95 target exceeded
    compared_with: Path | None = None

    def problem(self) -> ProblemFound | None:
        """The regression or the exceeded p95 target, as the error the CLI exits 1 with."""
        if self.failures:
            return ProblemFound(
                "regression against " + str(self.compared_with) + ": " + "; ".join(self.failures)
            )
        if self.over_target:
            return ProblemFound(self.over_target, "see the findings above")
        return None

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "query_name": self.query_name,
            "params": dict(self.params),
            **self.analysis.as_dict(),
        }
        document["comparison"] = self.comparison.as_dict() if self.comparison else None
        document["timing"] = self.stats.as_dict() if self.stats else None
        return document


def explain(
    target: Settings | str | None = None,
    sql: str | None = None,
    *,
    file: Path | None = None,
    query: str | None = None,
    plan_file: Path | None = None,
    plan_text: str | None = None,
    params: Sequence[str] = (),
    no_analyze: bool = False,
    wal: bool = False,
    timeout: float = 30.0,
    allow_side_effects: bool = False,
    set_options: Sequence[str] | Mapping[str, str] | None = None,
    runs: int | None = None,
    p95_target: str | float | None = None,  # ms, or a duration text (50ms, 0.5s)
    save: Path | None = None,
    compare: Path | None = None,
    max_regression: float = 20.0,
    min_regression_ms: float = 1.0,
    fail_on_shape_change: bool = False,
    html: Path | None = None,
    notice: Notice | None = None,
) -> ExplainReport:
    """EXPLAIN (ANALYZE, BUFFERS...) ``sql`` (or ``file``, or catalog ``query``) in a transaction
    that is always rolled back, or analyse a plan captured elsewhere (``plan_file``/``plan_text``).
    ``save`` writes a baseline, ``compare`` judges against one (``report.problem()``), ``html``
    writes a report. ``max_regression`` is in percent. Raises ``UsageError``, ``SqlError``,
    ``OperationTimeout``."""
    from dbadmin.explain.analyze import analyze_plan
    from dbadmin.explain.compare import compare_plans, load_baseline, save_baseline

    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    count, p95 = run_options(
        runs, p95_target, save is not None or compare is not None, no_analyze, timeout
    )
    run = Run(no_analyze, wal, timeout, settings_args(set_options), allow_side_effects, count, p95)
    baseline = load_baseline(compare) if compare else None
    query_name: str | None = None
    bound: dict[str, str] = {}
    stats: RunStats | None = None
    if plan_file is not None or plan_text is not None:
        if params:
            raise UsageError("-p applies to a query run on the server, not to --plan")
        from dbadmin.explain.plan import load_plan_file, parse_plan_text

        if plan_text is not None:
            analysis = analyze_plan(parse_plan_text(plan_text, source="stdin"))
        else:
            assert plan_file is not None
            analysis = analyze_plan(load_plan_file(plan_file))
    else:
        prepared = _prepare(sql, file, query, list(params), baseline, no_analyze)
        query_name = prepared.name
        bound = {**prepared.named, **{f"${k}": v for k, v in prepared.positional.items()}}
        analysis, stats = capture(settings_for(target), prepared, run)

    comparison = None
    if baseline is not None:
        comparison = compare_plans(
            baseline,
            analysis,
            max_regression=max_regression / 100.0,
            min_delta_ms=min_regression_ms,
            stats=stats,
        )
    if save is not None:
        save_baseline(analysis, save, params=bound, stats=stats)
        say(notice, f"baseline saved to {save}")
    if html is not None:
        from dbadmin.explain.html import render_html
        from dbadmin.files import write_atomically

        title = f"dbadmin explain: {query_name}" if query_name else "dbadmin explain"
        write_atomically(html, render_html(analysis, title=title))
        say(notice, f"HTML report written to {html}")
    failures = comparison.failures(fail_on_shape_change=fail_on_shape_change) if comparison else []
    return ExplainReport(
        analysis=analysis,
        query_name=query_name,
        params=bound,
        comparison=comparison,
        stats=stats,
        failures=tuple(failures),
        over_target=over_target(stats, run) if stats else None,
        compared_with=compare,
    )


def _prepare(
    sql: str | None,
    file: Path | None,
    query: str | None,
    params: list[str],
    baseline: dict[str, Any] | None,
    no_analyze: bool = False,
) -> PreparedQuery:
    from dbadmin.explain import catalog
    from dbadmin.explain.capture import prepare_query

    if query is not None:
        entry = catalog.get_query(query)
        return prepare_query(entry.sql, params=params, specs=entry.params, name=entry.name)
    if file is not None:
        try:
            sql = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    if sql is None and baseline is not None and baseline.get("query"):
        # the baseline stores the statement as run (parameters already bound)
        return prepare_query(str(baseline["query"]), params=params)
    if sql is None:
        raise UsageError(
            "nothing to explain",
            'give a statement, --file, --query NAME, --all or --plan FILE (dbadmin explain "SELECT 1")',
        )
    return prepare_query(sql, params=params, allow_generic=no_analyze)


# --- the catalog ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogListing:
    queries: tuple[CatalogQuery, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "queries": [
                {
                    "name": q.name,
                    "description": q.description,
                    "params": [
                        {"name": p.name, "type": p.type, "default": p.default} for p in q.params
                    ],
                    "sql": q.sql,
                }
                for q in self.queries
            ]
        }


def catalog_queries() -> CatalogListing:
    """The catalog queries (``explain --list``): name, parameters, what each serves."""
    from dbadmin.explain import catalog

    return CatalogListing(tuple(catalog.list_queries()))
