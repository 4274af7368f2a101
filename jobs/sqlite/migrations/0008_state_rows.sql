-- One state row per customer and rule set: the SQLite dialect of
-- jobs/postgres/migrations/0008_state_rows.sql, which says why and what
-- each column holds.
--
-- The arrays are JSON arrays in TEXT columns (a position p of the layout
-- is element p-1): segments and reasons as strings, times as strings in
-- the layout of every other time (six fractional digits, Z), run ids as
-- numbers, null where there is none.
--
-- wake_at (a time) and facts_digest (the 64 bits of the digest as a
-- signed integer) are the customer's mark, for incremental runs: wake_at,
-- when the customer must next be evaluated with unchanged facts (NULL:
-- never; 1970-01-01: on every run); facts_digest, a digest of the facts
-- the customer was last evaluated with (NULL: none). The migration
-- leaves them NULL; each apply writes them for the customers it
-- evaluates.
CREATE TABLE state_layout (
    ruleset  TEXT    NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('segmentation', 'action')),
    name     TEXT    NOT NULL,
    position INTEGER NOT NULL CHECK (position >= 1),
    PRIMARY KEY (ruleset, kind, name),
    UNIQUE (ruleset, kind, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE customer_state (
    ruleset       TEXT NOT NULL,
    customer_key  TEXT NOT NULL,
    segments      TEXT NOT NULL DEFAULT '[]',
    since         TEXT NOT NULL DEFAULT '[]',
    pending_since TEXT NOT NULL DEFAULT '[]',
    reasons       TEXT NOT NULL DEFAULT '[]',
    run_ids       TEXT NOT NULL DEFAULT '[]',
    action_at     TEXT NOT NULL DEFAULT '[]',
    wake_at       TEXT,
    facts_digest  INTEGER,
    PRIMARY KEY (ruleset, customer_key)
) STRICT, WITHOUT ROWID;

-- Carry every assignment and cooldown over, positions in name order.
INSERT INTO state_layout (ruleset, kind, name, position)
SELECT ruleset, 'segmentation', segmentation, row_number() OVER (PARTITION BY ruleset ORDER BY segmentation)
FROM (SELECT DISTINCT ruleset, segmentation FROM assignments);
INSERT INTO state_layout (ruleset, kind, name, position)
SELECT ruleset, 'action', action, row_number() OVER (PARTITION BY ruleset ORDER BY action)
FROM (SELECT DISTINCT ruleset, action FROM action_last);

INSERT INTO customer_state (ruleset, customer_key, segments, since, pending_since, reasons, run_ids, action_at)
SELECT k.ruleset, k.customer_key,
    coalesce(s.segments, '[]'), coalesce(s.since, '[]'), coalesce(s.pending_since, '[]'),
    coalesce(s.reasons, '[]'), coalesce(s.run_ids, '[]'), coalesce(a.action_at, '[]')
FROM (SELECT ruleset, customer_key FROM assignments UNION SELECT ruleset, customer_key FROM action_last) AS k
LEFT JOIN (
    SELECT k.ruleset, k.customer_key,
        json_group_array(x.segment ORDER BY l.position) AS segments, json_group_array(x.since ORDER BY l.position) AS since,
        json_group_array(x.pending_since ORDER BY l.position) AS pending_since,
        json_group_array(x.reason ORDER BY l.position) AS reasons, json_group_array(x.run_id ORDER BY l.position) AS run_ids
    FROM (SELECT DISTINCT ruleset, customer_key FROM assignments) AS k
    JOIN state_layout l ON l.ruleset = k.ruleset AND l.kind = 'segmentation'
    LEFT JOIN assignments x ON x.ruleset = k.ruleset AND x.segmentation = l.name AND x.customer_key = k.customer_key
    GROUP BY k.ruleset, k.customer_key
) AS s ON s.ruleset = k.ruleset AND s.customer_key = k.customer_key
LEFT JOIN (
    SELECT k.ruleset, k.customer_key, json_group_array(x.queued_at ORDER BY l.position) AS action_at
    FROM (SELECT DISTINCT ruleset, customer_key FROM action_last) AS k
    JOIN state_layout l ON l.ruleset = k.ruleset AND l.kind = 'action'
    LEFT JOIN action_last x ON x.ruleset = k.ruleset AND x.action = l.name AND x.customer_key = k.customer_key
    GROUP BY k.ruleset, k.customer_key
) AS a ON a.ruleset = k.ruleset AND a.customer_key = k.customer_key;

DROP TABLE assignments;
DROP TABLE action_last;

-- The old tables, as views with their columns, for SQL that reads the
-- state (docs/operations.md). tierflow reads and writes customer_state
-- only; the views cannot be written. json_extract rather than ->> so that
-- an older sqlite3 shell reads them too.
CREATE VIEW assignments AS
SELECT s.ruleset, l.name AS segmentation, s.customer_key,
    json_extract(s.segments, '$[' || (l.position - 1) || ']') AS segment,
    json_extract(s.since, '$[' || (l.position - 1) || ']') AS since,
    json_extract(s.pending_since, '$[' || (l.position - 1) || ']') AS pending_since,
    json_extract(s.reasons, '$[' || (l.position - 1) || ']') AS reason,
    json_extract(s.run_ids, '$[' || (l.position - 1) || ']') AS run_id
FROM customer_state s
JOIN state_layout l ON l.ruleset = s.ruleset AND l.kind = 'segmentation'
WHERE json_extract(s.segments, '$[' || (l.position - 1) || ']') IS NOT NULL;

CREATE VIEW action_last AS
SELECT s.ruleset, l.name AS action, s.customer_key,
    json_extract(s.action_at, '$[' || (l.position - 1) || ']') AS queued_at
FROM customer_state s
JOIN state_layout l ON l.ruleset = s.ruleset AND l.kind = 'action'
WHERE json_extract(s.action_at, '$[' || (l.position - 1) || ']') IS NOT NULL;
