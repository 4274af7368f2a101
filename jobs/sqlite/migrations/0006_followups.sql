-- Follow-up management: the SQLite dialect of
-- jobs/postgres/migrations/0006_followups.sql, which says why.
--
-- SQLite cannot change a CHECK constraint, so actions is rebuilt as 0005
-- rebuilt it, by the procedure of https://sqlite.org/lang_altertable.html
-- ("Making Other Kinds Of Table Schema Changes"): create the new table,
-- copy every row with its id, keep the AUTOINCREMENT position, drop the
-- old table, rename the new one to its name, recreate the indexes. The
-- table has no triggers or views.
--
-- action_attempts has a foreign key to actions (ON DELETE CASCADE). The
-- procedure needs foreign key enforcement off, and PRAGMA foreign_keys
-- cannot change inside the migration's transaction: Store.migrate turns
-- it off on its connection first where it is on, and then checks the
-- foreign keys before it commits. With enforcement on, DROP TABLE would
-- delete every attempt through the cascade. The new table is renamed to
-- actions, never the old one away from it: a rename rewrites the foreign
-- keys that point at the renamed table, and action_attempts would then
-- point at the dropped copy.
--
-- outcome_at is a time in the layout of every other (six fractional
-- digits, Z); segments is JSON text.

CREATE TABLE actions_0006 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    customer_key    TEXT    NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    priority        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'claimed', 'done', 'failed', 'dead', 'cancelled', 'held_out', 'suppressed')),
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
    lease_until     TEXT,
    outcome         TEXT,
    outcome_at      TEXT,
    note            TEXT,
    segments        TEXT    CHECK (segments IS NULL OR json_valid(segments))
) STRICT;
INSERT INTO actions_0006 (id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
        attempts, claimed_at, finished_at, last_error, idempotency_key, run_id, destination, lease_owner, lease_until)
    SELECT id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
        attempts, claimed_at, finished_at, last_error, idempotency_key, run_id, destination, lease_owner, lease_until
    FROM actions;
DELETE FROM sqlite_sequence WHERE name = 'actions_0006';
INSERT INTO sqlite_sequence (name, seq) SELECT 'actions_0006', seq FROM sqlite_sequence WHERE name = 'actions';
DROP TABLE actions;
ALTER TABLE actions_0006 RENAME TO actions;
CREATE INDEX actions_ready ON actions (priority, due_at) WHERE status = 'pending';
CREATE INDEX actions_customer ON actions (ruleset, customer_key, action);
CREATE INDEX actions_claim ON actions (destination, priority, due_at, id)
    WHERE status IN ('pending', 'claimed') AND destination IS NOT NULL;
-- The follow-up lookups of a run: the contacts within the limits'
-- window, and the latest outcomes, from the index alone.
CREATE INDEX actions_followups ON actions (ruleset, customer_key, created_at);
CREATE INDEX actions_outcomes ON actions (ruleset, customer_key, action, outcome, outcome_at)
    WHERE outcome IS NOT NULL;
