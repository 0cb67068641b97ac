"""JIT compilation that costs a large share of the execution."""

from __future__ import annotations

import math

from dbadmin.explain.model import Finding, Severity
from dbadmin.explain.rules import plan_rule
from dbadmin.explain.rules.context import Context, fmt_ms


@plan_rule
def jit(ctx: Context, findings: list[Finding]) -> list[Finding]:
    jit, execution = ctx.jit_ms, ctx.execution_ms
    if not jit or not execution or jit < 5.0 or jit < 0.20 * execution:
        return []
    cost = ctx.total_cost or 0.0
    above = int(10 ** math.ceil(math.log10(max(cost, 1.0) * 2)))
    return [
        Finding(
            kind="jit",
            severity=Severity.CRITICAL if jit >= 0.5 * execution else Severity.WARNING,
            node_id=None,
            title=f"JIT compilation takes {jit / execution:.0%} of the execution time",
            detail=(
                f"{fmt_ms(jit)} spent compiling for a {fmt_ms(execution)} execution "
                f"(plan cost {cost:,.0f} is above jit_above_cost "
                f"{ctx.settings.get('jit_above_cost', '100000')})"
            ),
            action=(
                f"SET jit = off; for this query, or raise the threshold: "
                f"ALTER DATABASE <db> SET jit_above_cost = {above};"
            ),
        )
    ]
