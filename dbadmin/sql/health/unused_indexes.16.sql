-- unused_indexes (PG 16+: pg_stat_user_indexes.last_idx_scan). Parameters: min_bytes.
SELECT s.schemaname AS schema,
       s.indexrelname AS index,
       s.relname AS "table",
       s.idx_scan AS scans,
       pg_relation_size(s.indexrelid) AS bytes,
       s.last_idx_scan AS last_scan,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())
           AS stats_reset
  FROM pg_stat_user_indexes AS s
  JOIN pg_index AS i ON i.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0
   AND NOT i.indisunique
   AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = s.indexrelid)
   AND pg_relation_size(s.indexrelid) >= %(min_bytes)s
 ORDER BY bytes DESC
 LIMIT 50
