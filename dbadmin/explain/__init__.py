"""EXPLAIN reports: safe capture, per-node analysis with findings, baselines, HTML.

- :mod:`capture`: EXPLAIN (ANALYZE, BUFFERS, ...) of one statement in an always-rolled-back
  transaction with a statement_timeout;
- :mod:`plan`: JSON plans as PostgreSQL 13-18, auto_explain and psql emit them;
- :mod:`analyze`: per-node metrics and typed findings;
- :mod:`compare`: baselines and plan-shape/time regressions;
- :mod:`report` / :mod:`html`: Rich tree and a self-contained HTML page;
- :mod:`catalog`: the app's hot queries, ``queries/*.sql``.
"""
