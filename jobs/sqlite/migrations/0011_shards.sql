-- The columns of sharded runs, as PostgreSQL's migration 0011 adds them,
-- so that the kernel's queries of runs read the same table in both. The
-- SQLite store runs no shards (one writer at a time: tierflow apply
-- --shard refuses it), so its runs never fill them, and the 'flagged'
-- status, which only a sharded run's parent takes, is not added to the
-- CHECK constraint (that would rebuild the table, as 0004 did).
ALTER TABLE runs ADD COLUMN parent_id INTEGER;
ALTER TABLE runs ADD COLUMN shard     INTEGER;
ALTER TABLE runs ADD COLUMN shards    INTEGER;
ALTER TABLE runs ADD COLUMN initial   INTEGER;
