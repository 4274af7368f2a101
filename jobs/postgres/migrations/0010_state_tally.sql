-- The state tally (issue 16): how many state rows of each rule set hold
-- each combination of segments, with a facts digest or without. An
-- incremental run needs these counts of every state row to report the
-- customers it leaves unread; counting them scanned the whole of
-- customer_state, 0.4-0.5 s at a million customers, about as long as
-- reading the customers who changed (docs/benchmarks.md).
--
-- Derived data, kept by every apply in its own transaction: it takes
-- away the groups of the rows it is about to write and adds them back
-- once written, or counts every row afresh when it writes many rows,
-- reads every customer (apply --full), or finds no tally. A run that
-- finds none counts the state rows as before. After editing
-- customer_state by hand, delete the rule set's row here (or run apply
-- --full): docs/operations.md, "The state tables".
--
-- groups is JSON text: [{"segments": [...], "digest": true, "rows": n}],
-- segments by layout position ("" for none, trailing ones left out).
CREATE TABLE state_tally (
    ruleset text   NOT NULL PRIMARY KEY,
    groups  text   NOT NULL,
    run_id  bigint NOT NULL -- the run that wrote it
);
