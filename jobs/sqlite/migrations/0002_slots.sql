-- Scheduled slots: one row per rule set and planned time, so replicas of
-- `tierflow serve` run each slot at most once and missed slots are kept.
CREATE TABLE slots (
    ruleset    TEXT    NOT NULL,
    slot       TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('claimed', 'succeeded', 'blocked', 'failed', 'skipped', 'missed')),
    owner      TEXT,
    claimed_at TEXT    NOT NULL,
    run_id     INTEGER,
    PRIMARY KEY (ruleset, slot)
) STRICT, WITHOUT ROWID;
