-- tierflow's state: current assignments, their history, the action queue,
-- and the record of every run. The SQLite dialect of
-- jobs/postgres/migrations/0001_init.sql, with the same tables and columns.
--
-- Times are TEXT: RFC 3339 in UTC with exactly six fractional digits
-- (2024-07-01T00:00:00.000000Z), so that text order is time order and
-- min(), max() and ORDER BY work on them. JSON is TEXT.

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset      TEXT    NOT NULL,
    rules_hash   TEXT    NOT NULL,
    kind         TEXT    NOT NULL DEFAULT 'apply',
    as_of        TEXT    NOT NULL,
    slot         TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'blocked', 'failed', 'skipped', 'abandoned', 'missed')),
    started_at   TEXT    NOT NULL,
    finished_at  TEXT,
    customers    INTEGER NOT NULL DEFAULT 0,
    changed      INTEGER NOT NULL DEFAULT 0,
    actions      INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    detail       TEXT    CHECK (detail IS NULL OR json_valid(detail)),
    error        TEXT
) STRICT;
CREATE INDEX runs_ruleset_started ON runs (ruleset, started_at DESC);

-- One row per customer and segmentation: where the customer is now.
CREATE TABLE assignments (
    ruleset       TEXT    NOT NULL,
    segmentation  TEXT    NOT NULL,
    customer_key  TEXT    NOT NULL,
    segment       TEXT    NOT NULL,
    since         TEXT    NOT NULL,
    pending_since TEXT,
    reason        TEXT    NOT NULL,
    run_id        INTEGER NOT NULL,
    PRIMARY KEY (ruleset, segmentation, customer_key)
) STRICT, WITHOUT ROWID;

-- Every move, so "why is customer 42 at risk since March?" has an answer.
CREATE TABLE history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset       TEXT    NOT NULL,
    segmentation  TEXT    NOT NULL,
    customer_key  TEXT    NOT NULL,
    from_segment  TEXT,
    to_segment    TEXT    NOT NULL,
    matched       TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    as_of         TEXT    NOT NULL,
    run_id        INTEGER NOT NULL
) STRICT;
CREATE INDEX history_customer ON history (ruleset, customer_key, id);

-- The action queue other systems consume (docs/queue.md).
CREATE TABLE actions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ruleset         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    customer_key    TEXT    NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    priority        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done', 'failed')),
    created_at      TEXT    NOT NULL,
    due_at          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_at      TEXT,
    finished_at     TEXT,
    last_error      TEXT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    run_id          INTEGER NOT NULL
) STRICT;
CREATE INDEX actions_ready ON actions (priority, due_at) WHERE status = 'pending';
CREATE INDEX actions_customer ON actions (ruleset, customer_key, action);

-- When each action was last queued per customer: the cooldown index,
-- kept in step with the queue by every apply.
CREATE TABLE action_last (
    ruleset      TEXT NOT NULL,
    action       TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    queued_at    TEXT NOT NULL,
    PRIMARY KEY (ruleset, action, customer_key)
) STRICT, WITHOUT ROWID;
