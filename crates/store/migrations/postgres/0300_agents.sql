-- Site agents (issue 15): one-time enrolment tokens, the agents' credentials and health, and
-- the batches they pushed. Secrets are stored as SHA-256 hashes only. A batch's evidence is a
-- scan (table scans) written by the evidence importer; agent_batches only remembers which agent
-- sent which batch, so that a replay is answered "duplicate".
CREATE TABLE agent_enrolments (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    organisation TEXT NOT NULL,
    site TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    used_at TEXT COLLATE "C",
    agent_id TEXT
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    organisation TEXT NOT NULL,
    site TEXT NOT NULL,
    credential_hash TEXT NOT NULL UNIQUE,
    enrolment_id TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT COLLATE "C",
    revoked_by TEXT,
    last_seen TEXT COLLATE "C",
    last_scan TEXT COLLATE "C",
    last_batch TEXT,
    agent_version TEXT,
    kb_version TEXT,
    outbox_depth BIGINT,
    outbox_bytes BIGINT,
    outbox_full BIGINT NOT NULL DEFAULT 0,
    schedule_secs BIGINT,
    batches BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX agents_site ON agents(site);
CREATE INDEX agents_organisation ON agents(organisation);
CREATE TABLE agent_batches (
    batch_id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL,
    site TEXT NOT NULL,
    scan_id TEXT NOT NULL,
    observations BIGINT NOT NULL,
    received_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX agent_batches_agent ON agent_batches(agent_id);
