-- Scheduled slots: one row per rule set and planned time, so replicas of
-- `tierflow serve` run each slot at most once and missed slots are kept.
CREATE TABLE slots (
    ruleset    text        NOT NULL,
    slot       timestamptz NOT NULL,
    status     text        NOT NULL CHECK (status IN ('claimed', 'succeeded', 'blocked', 'failed', 'skipped', 'missed')),
    owner      text,
    claimed_at timestamptz NOT NULL,
    run_id     bigint,
    PRIMARY KEY (ruleset, slot)
);
