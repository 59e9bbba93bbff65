-- The webhook delivery log is pruned by age (every attempt older than the server's retention,
-- 90 days by default): an index on the attempt's time keeps each prune from reading the table.
CREATE INDEX webhook_deliveries_time ON webhook_deliveries(time);
