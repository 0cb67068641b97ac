-- Enums (labels in sort order) and domains (base type, NOT NULL, default, constraints) of the
-- given schemas, skipping extension members.
SELECT n.nspname AS schema,
       t.typname AS name,
       t.typtype::text AS kind,
       obj_description(t.oid, 'pg_type') AS comment,
       ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
             ORDER BY e.enumsortorder)::text[] AS labels,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull AS not_null,
       t.typdefault AS default,
       ARRAY(SELECT con.conname || E'\t' || pg_get_constraintdef(con.oid)
             FROM pg_constraint con WHERE con.contypid = t.oid AND con.contype <> 'n'
             ORDER BY con.conname)::text[] AS constraints
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = ANY (%(schemas)s)
  AND t.typtype IN ('e', 'd')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY n.nspname, t.typname
