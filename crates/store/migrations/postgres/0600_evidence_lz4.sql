-- An identification's stored text (its evidence, with sources) is about 2.8 KB, over TOAST's
-- compression threshold, so PostgreSQL compresses every one it writes. Its default method,
-- pglz, was the first PostgreSQL function in a profile of fleet ingest (issue 15: 8% of the
-- whole machine, a fifth of the database server's time). LZ4 compresses several times faster
-- for a similar size. It needs PostgreSQL 14 or later built with LZ4 (Debian's packages are);
-- where it is missing, the column keeps pglz and nothing else changes. Rows already stored keep
-- the method they were written with.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE identifications ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
    RAISE NOTICE 'LZ4 is not available: identifications stay compressed with pglz';
END
$$;
