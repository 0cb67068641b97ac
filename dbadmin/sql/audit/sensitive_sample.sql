-- At most {limit} non-null values of one sensitive column (identifiers quoted by the caller).
SELECT {column}::text AS value FROM {table} WHERE {column} IS NOT NULL LIMIT {limit}
