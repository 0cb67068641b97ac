"""Seed data: realistic generators for the app schema, a generic generator for any schema, and
a COPY loader that streams their batches (one transaction per table, FK order).

Python API (the CLI in ``dbadmin/cli/seed.py`` only parses options and renders)::

    plan = plan_seed(settings, SeedRequest(profile="load", rows={"messages": 1_000_000}))
    result = run_seed(settings, plan)

Modules: ``run`` (profiles, planning, safety checks), ``load`` (COPY loader, sequences,
ANALYZE, index rebuild around bulk loads), ``copy`` (COPY text format, streaming), ``app``
(realistic generators), ``generic`` (any schema), ``checks`` (simple CHECK constraints),
``minimal`` (fixed records), ``text``/``rng`` (vocabulary, fast formatting, seeded streams).
"""

from __future__ import annotations

from dbadmin.seed.run import (
    PROFILES,
    SeedPlan,
    SeedRequest,
    SeedResult,
    parse_rows,
    plan_seed,
    run_seed,
)

__all__ = [
    "PROFILES",
    "SeedPlan",
    "SeedRequest",
    "SeedResult",
    "parse_rows",
    "plan_seed",
    "run_seed",
]
