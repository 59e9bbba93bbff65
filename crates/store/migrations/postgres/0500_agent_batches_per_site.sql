-- A batch is recorded per site (issue 15): the same bytes pushed by agents of two sites (two
-- agents that scanned the same device in the same second) are two sites' evidence, stored as a
-- scan of each. With the batch id alone as the key, the second site's batch was stored but not
-- recorded, so its agent's batch count read one too few.
CREATE TABLE agent_batches_per_site (
    batch_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    site TEXT NOT NULL,
    scan_id TEXT NOT NULL,
    observations BIGINT NOT NULL,
    received_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (batch_id, site)
);
INSERT INTO agent_batches_per_site (batch_id, agent_id, site, scan_id, observations, received_at)
    SELECT batch_id, agent_id, site, scan_id, observations, received_at FROM agent_batches;
DROP TABLE agent_batches;
ALTER TABLE agent_batches_per_site RENAME TO agent_batches;
CREATE INDEX agent_batches_agent ON agent_batches(agent_id);
