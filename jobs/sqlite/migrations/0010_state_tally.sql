-- The state tally, as PostgreSQL's migration 0010 keeps it: how many
-- state rows of each rule set hold each combination of segments, with a
-- facts digest or without, kept by every apply, so that an incremental
-- run need not count every state row to report the customers it leaves
-- unread. Derived data: a run that finds no row for its rule set counts
-- the state rows as before.
--
-- groups is JSON text: [{"segments": [...], "digest": true, "rows": n}],
-- segments by layout position ("" for none, trailing ones left out).
CREATE TABLE state_tally (
    ruleset TEXT    NOT NULL PRIMARY KEY,
    groups  TEXT    NOT NULL,
    run_id  INTEGER NOT NULL -- the run that wrote it
) STRICT;
