-- replication_slots: inactive slots retain WAL (and hold back vacuum) until dropped (PG 14-16).
-- Parameters: none.
SELECT slot_name,
       slot_type,
       database,
       active,
       wal_status,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END AS retained_bytes,
       NULL::float8 AS inactive_seconds
  FROM pg_replication_slots
 ORDER BY active, slot_name
