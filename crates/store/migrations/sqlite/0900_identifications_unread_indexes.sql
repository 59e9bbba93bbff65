-- No query reads identifications by target, device or MAC: they are read by scan (the primary
-- key's first column) and, for the estate, the latest per (site, target) over a site's scans.
-- Each of these three indexes still cost an index entry per identification written, and index
-- maintenance was the largest part of the database's time under fleet ingest (issue 15).
DROP INDEX IF EXISTS identifications_target;
DROP INDEX IF EXISTS identifications_device;
DROP INDEX IF EXISTS identifications_mac;
