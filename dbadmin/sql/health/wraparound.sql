-- wraparound: transaction ID age per database vs 2^31 and autovacuum_freeze_max_age.
-- Parameters: none.
SELECT datname AS database,
       age(datfrozenxid)::bigint AS xid_age,
       mxid_age(datminmxid)::bigint AS mxid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
  FROM pg_database
 WHERE datallowconn
 ORDER BY xid_age DESC
