"""What is slow: pg_stat_statements (top, snapshots with reset-proof deltas, enable) and server
logs (stderr/csvlog/jsonlog parser with fingerprints), plus single-file HTML reports.

- ``pgss``: pg_stat_statements reader, snapshots and ``enable`` (SQL in ``dbadmin/sql/slowlog``);
- ``logparse``: the streaming log parser; ``prefix``: ``log_line_prefix`` to regex and inference;
- ``fingerprint``: pglast fingerprints with a cache and a normalizer fallback;
- ``html``: the ``--html`` reports.
"""
