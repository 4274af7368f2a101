-- One state row per customer and rule set (issue 16). assignments (a
-- row per segmentation) and action_last (a row per action) made the
-- snapshot query join state once per segmentation and once per action
-- with a cooldown; PostgreSQL spent more CPU on those joins than on the
-- whole hand-written SQL baseline (docs/benchmarks.md). A customer's
-- state is now one row of customer_state, read with one join and
-- written with one upsert.
--
-- The arrays are indexed by state_layout: each rule set's segmentations
-- and actions get a position (1, 2, ...) when an apply first writes them,
-- and keep it. A segmentation or action the rules add takes the next
-- position; one they remove keeps its own, and its state, unread; a
-- reordered rule file changes nothing. Rows written under an earlier
-- layout therefore read correctly under a later one (an array shorter
-- than the layout has no state at the positions past its end).
CREATE TABLE state_layout (
    ruleset  text    NOT NULL,
    kind     text    NOT NULL CHECK (kind IN ('segmentation', 'action')),
    name     text    NOT NULL,
    position integer NOT NULL CHECK (position >= 1),
    PRIMARY KEY (ruleset, kind, name),
    UNIQUE (ruleset, kind, position)
);

-- segments, since, pending_since, reasons and run_ids are by segmentation
-- position: the customer's segment (NULL: none), since when, since when
-- a downgrade is pending (NULL: none), why, and the run that last wrote
-- it, as the columns of assignments were. action_at is by action
-- position: when the action last started its cooldown for the customer
-- (queued, or held out), as action_last.queued_at was. A customer who
-- leaves every segmentation and holds no such time has no row; one in the
-- source whom the rules put in no segment has one for its mark.
--
-- wake_at and facts_digest are the customer's mark, for incremental
-- runs: wake_at, when the customer must next be evaluated with unchanged
-- facts (the earliest time a date condition, stickiness, cooldown or
-- delay can change their outcome; NULL: never; 1970-01-01: on every
-- run); facts_digest, a digest of the facts the customer was last
-- evaluated with (its 64 bits as a signed bigint; NULL: none). The
-- migration leaves them NULL; each apply writes them for the customers
-- it evaluates.
CREATE TABLE customer_state (
    ruleset       text          NOT NULL,
    customer_key  text          NOT NULL,
    segments      text[]        NOT NULL DEFAULT '{}',
    since         timestamptz[] NOT NULL DEFAULT '{}',
    pending_since timestamptz[] NOT NULL DEFAULT '{}',
    reasons       text[]        NOT NULL DEFAULT '{}',
    run_ids       bigint[]      NOT NULL DEFAULT '{}',
    action_at     timestamptz[] NOT NULL DEFAULT '{}',
    wake_at       timestamptz,
    facts_digest  bigint,
    PRIMARY KEY (ruleset, customer_key)
);
-- As 0003 did for the old tables: keys are distinct within a rule set,
-- and an overestimate is harmless for the snapshot's one join.
ALTER TABLE customer_state ALTER COLUMN customer_key SET (n_distinct = -1);

-- Carry every assignment and cooldown over, positions in name order.
INSERT INTO state_layout (ruleset, kind, name, position)
SELECT ruleset, 'segmentation', segmentation, row_number() OVER (PARTITION BY ruleset ORDER BY segmentation)
FROM (SELECT DISTINCT ruleset, segmentation FROM assignments) AS s;
INSERT INTO state_layout (ruleset, kind, name, position)
SELECT ruleset, 'action', action, row_number() OVER (PARTITION BY ruleset ORDER BY action)
FROM (SELECT DISTINCT ruleset, action FROM action_last) AS a;

INSERT INTO customer_state (ruleset, customer_key, segments, since, pending_since, reasons, run_ids, action_at)
SELECT k.ruleset, k.customer_key,
    coalesce(s.segments, '{}'), coalesce(s.since, '{}'), coalesce(s.pending_since, '{}'),
    coalesce(s.reasons, '{}'), coalesce(s.run_ids, '{}'), coalesce(a.action_at, '{}')
FROM (SELECT ruleset, customer_key FROM assignments UNION SELECT ruleset, customer_key FROM action_last) AS k
LEFT JOIN (
    SELECT k.ruleset, k.customer_key,
        array_agg(x.segment ORDER BY l.position) AS segments, array_agg(x.since ORDER BY l.position) AS since,
        array_agg(x.pending_since ORDER BY l.position) AS pending_since, array_agg(x.reason ORDER BY l.position) AS reasons,
        array_agg(x.run_id ORDER BY l.position) AS run_ids
    FROM (SELECT DISTINCT ruleset, customer_key FROM assignments) AS k
    JOIN state_layout l ON l.ruleset = k.ruleset AND l.kind = 'segmentation'
    LEFT JOIN assignments x ON x.ruleset = k.ruleset AND x.segmentation = l.name AND x.customer_key = k.customer_key
    GROUP BY k.ruleset, k.customer_key
) AS s ON s.ruleset = k.ruleset AND s.customer_key = k.customer_key
LEFT JOIN (
    SELECT k.ruleset, k.customer_key, array_agg(x.queued_at ORDER BY l.position) AS action_at
    FROM (SELECT DISTINCT ruleset, customer_key FROM action_last) AS k
    JOIN state_layout l ON l.ruleset = k.ruleset AND l.kind = 'action'
    LEFT JOIN action_last x ON x.ruleset = k.ruleset AND x.action = l.name AND x.customer_key = k.customer_key
    GROUP BY k.ruleset, k.customer_key
) AS a ON a.ruleset = k.ruleset AND a.customer_key = k.customer_key;

DROP TABLE assignments;
DROP TABLE action_last;

-- The old tables, as views with their columns, for SQL that reads the
-- state (docs/operations.md). tierflow reads and writes customer_state
-- only; the views cannot be written.
CREATE VIEW assignments AS
SELECT s.ruleset, l.name AS segmentation, s.customer_key, s.segments[l.position] AS segment,
    s.since[l.position] AS since, s.pending_since[l.position] AS pending_since,
    s.reasons[l.position] AS reason, s.run_ids[l.position] AS run_id
FROM customer_state s
JOIN state_layout l ON l.ruleset = s.ruleset AND l.kind = 'segmentation'
WHERE s.segments[l.position] IS NOT NULL;

CREATE VIEW action_last AS
SELECT s.ruleset, l.name AS action, s.customer_key, s.action_at[l.position] AS queued_at
FROM customer_state s
JOIN state_layout l ON l.ruleset = s.ruleset AND l.kind = 'action'
WHERE s.action_at[l.position] IS NOT NULL;
