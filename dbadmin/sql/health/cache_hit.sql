-- cache_hit: shared-buffer hit ratio of the current database's tables and indexes (PgHero).
-- Parameters: none.
SELECT coalesce(sum(heap_blks_hit), 0) + coalesce(sum(idx_blks_hit), 0) AS hits,
       coalesce(sum(heap_blks_read), 0) + coalesce(sum(idx_blks_read), 0) AS reads
  FROM pg_statio_user_tables
