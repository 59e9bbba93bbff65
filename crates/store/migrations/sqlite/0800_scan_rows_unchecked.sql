-- PostgreSQL only (it drops the per-row foreign-key checks of observations and identifications
-- against their scan): SQLite cannot drop a constraint without rebuilding the table, and its
-- checks are a cheap look-up in the same file, so they stay.
SELECT 1;
