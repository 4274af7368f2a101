-- Version 9 keeps effect profiles on PostgreSQL (its migration 0009):
-- what the effects report reads there instead of counting a year of
-- decisions and history. This store keeps none: its effects report
-- merges the decisions and moves, which is faster on SQLite than counting
-- them in SQL (docs/benchmarks.md, "The effects report"). The version
-- is kept so that both stores number their schemas alike.
SELECT 1;
