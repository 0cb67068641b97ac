-- unused_indexes: never scanned since the statistics were reset, at least min_bytes big, and
-- not enforcing a constraint (PG 14-15). Parameters: min_bytes.
-- The candidates are materialized first so that pg_relation_size() (which opens each
-- relation) runs only for them, not for every row of pg_class (~55 ms on an empty database).
WITH candidates AS MATERIALIZED (
    SELECT s.schemaname,
           s.indexrelname,
           s.relname,
           s.idx_scan,
           s.indexrelid,
           NULL::timestamptz AS last_scan
      FROM pg_stat_user_indexes AS s
      JOIN pg_index AS i ON i.indexrelid = s.indexrelid
     WHERE s.idx_scan = 0
       AND NOT i.indisunique
       AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = s.indexrelid)
), sized AS MATERIALIZED (
    SELECT c.*, pg_relation_size(c.indexrelid) AS bytes FROM candidates AS c
)
SELECT z.schemaname AS schema,
       z.indexrelname AS index,
       z.relname AS "table",
       z.idx_scan AS scans,
       z.bytes,
       z.last_scan,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())
           AS stats_reset
  FROM sized AS z
 WHERE z.bytes >= %(min_bytes)s
 ORDER BY z.bytes DESC
 LIMIT 50
