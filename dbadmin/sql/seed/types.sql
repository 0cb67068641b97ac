-- types: the types named by columns (and, on the next rounds, by domains, arrays and ranges):
-- kind, base of a domain, element of an array, subtype of a range or multirange, enum labels,
-- the domain's own CHECK expressions (on VALUE).
SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typbasetype, t.typtypmod, t.typnotnull,
       t.typelem,
       COALESCE(r.rngsubtype, mr.rngsubtype) AS subtype,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
        FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels,
       (SELECT array_agg(pg_get_constraintdef(k.oid) ORDER BY k.conname)
        FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c') AS checks
FROM pg_type t
LEFT JOIN pg_range r ON r.rngtypid = t.oid
LEFT JOIN pg_range mr ON mr.rngmultitypid = t.oid
WHERE t.oid = ANY(%(oids)s)
