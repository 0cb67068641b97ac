"""Finding rules, one module each, run in registration order (as SQLFluff keeps its rules).

A node rule looks at one node and returns its findings; a plan rule looks at the whole plan
(and at the findings of the node rules, e.g. to point a slow node at its cause). Add a rule by
writing a module here with a function decorated by :func:`node_rule` or :func:`plan_rule` and
listing the module in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from dbadmin.explain.model import SEVERITIES, Finding, NodeMetrics
from dbadmin.explain.rules.context import Context

NodeRule = Callable[[Context, NodeMetrics], list[Finding]]
PlanRule = Callable[[Context, list[Finding]], list[Finding]]

_NODE_RULES: list[NodeRule] = []
_PLAN_RULES: list[PlanRule] = []
_MODULES = (
    "index_potential",
    "misestimate",
    "spill",
    "nested_loop",
    "heap_fetches",
    "workers",
    "top_n",
    "slow_node",
    "planning",
    "jit",
)


def node_rule(rule: NodeRule) -> NodeRule:
    _NODE_RULES.append(rule)
    return rule


def plan_rule(rule: PlanRule) -> PlanRule:
    _PLAN_RULES.append(rule)
    return rule


def _load() -> None:
    if not _NODE_RULES:
        for name in _MODULES:
            importlib.import_module(f"{__name__}.{name}")


def find_problems(ctx: Context) -> list[Finding]:
    """Every rule's findings, most severe first, then in plan order."""
    _load()
    findings: list[Finding] = []
    for node in ctx.nodes:
        for rule in _NODE_RULES:
            findings.extend(rule(ctx, node))
    for plan_rule_ in _PLAN_RULES:
        findings.extend(plan_rule_(ctx, findings))
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order[f.severity], f.node_id if f.node_id is not None else -1))
    return findings
