-- PostgreSQL only (its identifications are compressed with LZ4 where the server has it):
-- SQLite does not compress column values, so there is nothing to change.
SELECT 1;
