-- Background work shared by several server replicas (issue 15). A named lease lets one replica
-- at a time run a periodic job (the alert checker); webhook_jobs is the durable queue of
-- webhook deliveries, claimed by one replica at a time under a lease that expires, so a
-- delivery whose replica died is taken over by another. Times are Unix milliseconds.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    until_ms INTEGER NOT NULL
);
CREATE TABLE webhook_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL,
    event_key TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_ms INTEGER NOT NULL,
    holder TEXT,
    lease_until_ms INTEGER,
    state INTEGER NOT NULL DEFAULT 0,
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_jobs_due ON webhook_jobs(state, next_at_ms);
