-- The access audit log: sign-ins (succeeded and failed), sign-outs, exports and audited reads.
-- Hash-chained on its own, apart from the register's `history`, so that access events neither
-- grow the register's tamper-evident history nor change its revision (the cache key). Old
-- entries are pruned after the retention period (docs/security.md): the chain then verifies
-- from the oldest entry kept.
CREATE TABLE access_log (
    seq INTEGER PRIMARY KEY NOT NULL,
    time TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX access_log_time ON access_log(time);
