-- dbadmin's own history of pg_stat_statements counters (created on first use).
CREATE SCHEMA IF NOT EXISTS dbadmin;
CREATE TABLE IF NOT EXISTS dbadmin.pgss_snapshots (
    id bigserial PRIMARY KEY,
    taken_at timestamptz NOT NULL DEFAULT now(),
    stats_reset timestamptz,
    server_started timestamptz NOT NULL,
    server_version_num integer NOT NULL,
    entries integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pgss_snapshots_taken_at ON dbadmin.pgss_snapshots (taken_at);
CREATE TABLE IF NOT EXISTS dbadmin.pgss_snapshot_rows (
    snapshot_id bigint NOT NULL REFERENCES dbadmin.pgss_snapshots (id) ON DELETE CASCADE,
    userid oid NOT NULL,
    dbid oid NOT NULL,
    queryid bigint NOT NULL,
    toplevel boolean NOT NULL,
    calls bigint NOT NULL,
    total_ms double precision NOT NULL,
    max_ms double precision,
    rows bigint NOT NULL,
    shared_blks_hit bigint NOT NULL,
    shared_blks_read bigint NOT NULL,
    temp_blks_read bigint NOT NULL,
    temp_blks_written bigint NOT NULL,
    io_ms double precision NOT NULL,
    stats_since timestamptz,
    PRIMARY KEY (snapshot_id, userid, dbid, queryid, toplevel)
);
CREATE TABLE IF NOT EXISTS dbadmin.pgss_query_texts (
    userid oid NOT NULL,
    dbid oid NOT NULL,
    queryid bigint NOT NULL,
    query text NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (userid, dbid, queryid)
);
