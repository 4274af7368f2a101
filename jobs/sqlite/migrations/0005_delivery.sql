-- Delivery by tierflow: the SQLite dialect of
-- jobs/postgres/migrations/0005_delivery.sql, which says why.
--
-- SQLite cannot change a CHECK constraint, so actions is rebuilt as
-- 0004 rebuilt runs and slots (https://sqlite.org/lang_altertable.html):
-- create the new table, copy every row, keep the AUTOINCREMENT position,
-- drop the old one, rename the new one, recreate the indexes. The table
-- has no triggers or views, and no foreign key points at it before
-- action_attempts is created below. lease_until is a time in the layout
-- of every other (six fractional digits, Z).

CREATE TABLE actions_0005 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    customer_key    TEXT    NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    priority        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done', 'failed', 'dead', 'cancelled')),
    created_at      TEXT    NOT NULL,
    due_at          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_at      TEXT,
    finished_at     TEXT,
    last_error      TEXT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    run_id          INTEGER NOT NULL,
    destination     TEXT,
    lease_owner     TEXT,
    lease_until     TEXT
) STRICT;
INSERT INTO actions_0005 (id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
        attempts, claimed_at, finished_at, last_error, idempotency_key, run_id)
    SELECT id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
        attempts, claimed_at, finished_at, last_error, idempotency_key, run_id
    FROM actions;
DELETE FROM sqlite_sequence WHERE name = 'actions_0005';
INSERT INTO sqlite_sequence (name, seq) SELECT 'actions_0005', seq FROM sqlite_sequence WHERE name = 'actions';
DROP TABLE actions;
ALTER TABLE actions_0005 RENAME TO actions;
CREATE INDEX actions_ready ON actions (priority, due_at) WHERE status = 'pending';
CREATE INDEX actions_customer ON actions (ruleset, customer_key, action);
-- The claim query: due or lapsed actions of some destinations, by
-- priority, due time and id.
CREATE INDEX actions_claim ON actions (destination, priority, due_at, id)
    WHERE status IN ('pending', 'claimed') AND destination IS NOT NULL;

-- Every attempt to deliver an action, for `tierflow actions show`.
CREATE TABLE action_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id   INTEGER NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    duration_us INTEGER NOT NULL,
    http_status INTEGER,
    error       TEXT,
    response    TEXT
) STRICT;
CREATE INDEX action_attempts_action ON action_attempts (action_id, attempt);
