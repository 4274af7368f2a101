-- Every customer has at most one row per segmentation in assignments and
-- per action in action_last, but ANALYZE's sample underestimates the
-- distinct customer keys more as the tables grow (n_distinct -0.13 at 3M
-- customers against a true -0.33), so the planner thinks each snapshot
-- LEFT JOIN multiplies the rows and drops the parallel plan: 15.7 s
-- instead of 9.9 s for the snapshot at 3M (docs/benchmarks.md).
-- Overestimating is harmless for these joins.
ALTER TABLE assignments ALTER COLUMN customer_key SET (n_distinct = -1);
ALTER TABLE action_last ALTER COLUMN customer_key SET (n_distinct = -1);
