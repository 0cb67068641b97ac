-- replication_slots (PG 17+: inactive_since). Parameters: none.
SELECT slot_name,
       slot_type,
       database,
       active,
       wal_status,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END AS retained_bytes,
       extract(epoch FROM clock_timestamp() - inactive_since)::float8 AS inactive_seconds
  FROM pg_replication_slots
 ORDER BY active, slot_name
