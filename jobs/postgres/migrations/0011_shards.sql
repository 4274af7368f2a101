-- Sharded runs (tierflow apply --shard I/N, issue 17): each shard's run
-- is a row of runs with its shard (0 to shards-1) and the id of its
-- parent, a row of kind 'sharded' that stands for the whole run. The
-- parent is 'running' until the last shard to commit completes it:
-- 'succeeded', or 'flagged' when the shards' totals are over a guard's
-- limit (their writes stand). initial is the parent's: whether the rule
-- set had no state when its first shard began, so that every shard of a
-- first run treats it as one.
--
-- The shards of one run find their parent by rule set, as-of and number
-- of shards: at most one such parent is open at a time.
ALTER TABLE runs
    ADD COLUMN parent_id bigint,
    ADD COLUMN shard     integer,
    ADD COLUMN shards    integer,
    ADD COLUMN initial   boolean;
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'succeeded', 'blocked', 'failed', 'skipped', 'abandoned', 'missed', 'cancelled', 'flagged'));
CREATE UNIQUE INDEX runs_open_parent ON runs (ruleset, as_of, shards) WHERE kind = 'sharded' AND status = 'running';
CREATE INDEX runs_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
