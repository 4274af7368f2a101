-- Slot leases, and the 'cancelled' run status: the SQLite dialect of
-- jobs/postgres/migrations/0004_slot_leases.sql, which says why.
--
-- SQLite can neither change a CHECK constraint nor add a column whose
-- default is not a constant, so runs and slots are rebuilt the way its
-- documentation prescribes (https://sqlite.org/lang_altertable.html):
-- create the new table, copy every row, drop the old one, rename the new
-- one, recreate the indexes. Neither table has triggers, views or foreign
-- keys, and the migration runs in one transaction: a failure leaves the
-- old tables as they were.

CREATE TABLE runs_0004 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset      TEXT    NOT NULL,
    rules_hash   TEXT    NOT NULL,
    kind         TEXT    NOT NULL DEFAULT 'apply',
    as_of        TEXT    NOT NULL,
    slot         TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'blocked', 'failed', 'skipped', 'abandoned', 'missed', 'cancelled')),
    started_at   TEXT    NOT NULL,
    finished_at  TEXT,
    customers    INTEGER NOT NULL DEFAULT 0,
    changed      INTEGER NOT NULL DEFAULT 0,
    actions      INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    detail       TEXT    CHECK (detail IS NULL OR json_valid(detail)),
    error        TEXT
) STRICT;
INSERT INTO runs_0004 (id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
        customers, changed, actions, errors, detail, error)
    SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
        customers, changed, actions, errors, detail, error
    FROM runs;
-- Keep the AUTOINCREMENT position, so that the ids of deleted runs are
-- never given again: dropping runs deletes its sqlite_sequence row, and
-- the rename carries this one over to the new name.
DELETE FROM sqlite_sequence WHERE name = 'runs_0004';
INSERT INTO sqlite_sequence (name, seq) SELECT 'runs_0004', seq FROM sqlite_sequence WHERE name = 'runs';
DROP TABLE runs;
ALTER TABLE runs_0004 RENAME TO runs;
CREATE INDEX runs_ruleset_started ON runs (ruleset, started_at DESC);

-- lease_until is a time in the layout of every other (six fractional
-- digits, Z). A claim recorded before this migration, or by an older
-- tierflow during the upgrade, holds a lease of one hour from its claim.
CREATE TABLE slots_0004 (
    ruleset     TEXT    NOT NULL,
    slot        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('claimed', 'succeeded', 'blocked', 'failed', 'skipped', 'missed')),
    owner       TEXT,
    claimed_at  TEXT    NOT NULL,
    run_id      INTEGER,
    lease_until TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S', 'now', '+1 hour') || '.000000Z'),
    PRIMARY KEY (ruleset, slot)
) STRICT, WITHOUT ROWID;
INSERT INTO slots_0004 (ruleset, slot, status, owner, claimed_at, run_id, lease_until)
    SELECT ruleset, slot, status, owner, claimed_at, run_id,
        coalesce(strftime('%Y-%m-%dT%H:%M:%S', claimed_at, '+1 hour') || substr(claimed_at, 20), claimed_at)
    FROM slots;
DROP TABLE slots;
ALTER TABLE slots_0004 RENAME TO slots;
-- The claims still open, which every replica looks at every lease/3.
CREATE INDEX slots_open ON slots (ruleset, slot) WHERE status = 'claimed';
