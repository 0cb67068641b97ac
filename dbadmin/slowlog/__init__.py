"""What is slow: pg_stat_statements (top, snapshots with reset-proof deltas, enable) and server
logs (stderr/csvlog/jsonlog parser with fingerprints), plus single-file HTML reports.

- ``pgss``: pg_stat_statements reader and snapshots (SQL in ``dbadmin/sql/slowlog``); ``enable``:
  `slow-queries enable`;
- ``logparse``: the log parser's entry point (``parse_logs``), which runs
  ``readers`` (one per format, and input handling) into ``accumulate`` (per-fingerprint
  statistics, errors, timeline), ``nplusone`` (N+1 runs per session) and ``report`` (the typed
  result); ``parallel`` splits one large file across ``--jobs`` worker processes;
- ``prefix``: ``log_line_prefix`` to regex; ``infer``: the prefix of a log with none given;
- ``fingerprint``: pglast fingerprints with a cache and a normalizer fallback;
- ``html``: the ``--html`` reports.
"""
