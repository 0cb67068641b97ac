-- Drop snapshots (and their rows) older than the retention, and texts no longer seen.
WITH /* dbadmin */ gone AS (
    DELETE FROM dbadmin.pgss_snapshots
    WHERE taken_at < now() - make_interval(days => %(keep_days)s)
    RETURNING 1
), texts AS (
    DELETE FROM dbadmin.pgss_query_texts
    WHERE last_seen < now() - make_interval(days => %(keep_days)s)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS snapshots, (SELECT count(*) FROM texts) AS texts
