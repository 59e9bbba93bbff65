-- Observations and identifications are written only by a scan import (`ScanImport`), in the
-- transaction that first inserted their scan, under that scan's id; nothing deletes scans. The
-- foreign keys to `scans` therefore never refuse a row, but PostgreSQL checked them for every
-- row written: a query per observation and per identification, all on the same scan row. A
-- profile of fleet ingest (issue 15: 200 agents pushing to two replicas) put those checks at a
-- quarter of the database's time. The invariant they guarded is tested instead: the store's
-- conformance story checks that no observation or identification is left without its scan.
ALTER TABLE observations DROP CONSTRAINT IF EXISTS observations_scan_id_fkey;
ALTER TABLE identifications DROP CONSTRAINT IF EXISTS identifications_scan_id_fkey;
