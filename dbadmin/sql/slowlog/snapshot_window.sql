-- The snapshots a `--since` window uses: the newest one at or before its start (the baseline),
-- else the oldest inside it, and everything after.
WITH /* dbadmin */ base AS (
    SELECT coalesce(
        (SELECT max(id) FROM dbadmin.pgss_snapshots
          WHERE taken_at <= now() - %(since)s::interval),
        (SELECT min(id) FROM dbadmin.pgss_snapshots)) AS id
)
SELECT s.id, s.taken_at, s.stats_reset, s.server_started, s.entries
FROM dbadmin.pgss_snapshots s, base
WHERE s.id >= base.id
ORDER BY s.id
