-- Follow-up management (issue 13): coverage targets, contact limits,
-- holdouts and outcomes.
--
-- An action that fired but was withheld is kept in the queue as the
-- record of the decision, with its reason in note: 'held_out' (the
-- customer is in the action's holdout group) or 'suppressed' (a contact
-- limit was reached). No worker or consumer claims either; a held-out
-- action starts its cooldown, a suppressed one does not.
--
-- outcome and outcome_at are how and when a follow-up ended, as reported
-- (tierflow actions done|fail, or SQL): what coverage targets read. note
-- is free text kept with the outcome. segments is the customer's segment
-- per segmentation after the run that queued the action ({"value_tier":
-- "vip"}), so that outcomes can be told apart by class; NULL for segment
-- syncs and for every row queued before this migration.
ALTER TABLE actions
    ADD COLUMN outcome text,
    ADD COLUMN outcome_at timestamptz,
    ADD COLUMN note text,
    ADD COLUMN segments jsonb;
ALTER TABLE actions DROP CONSTRAINT actions_status_check;
ALTER TABLE actions ADD CONSTRAINT actions_status_check
    CHECK (status IN ('pending', 'claimed', 'done', 'failed', 'dead', 'cancelled', 'held_out', 'suppressed'));
-- The follow-up lookups of a run, one query each per batch of customers
-- (kernel.StateReader.LoadFollowUps). actions_customer (ruleset,
-- customer_key, action) finds a customer's rows, but then every row of
-- the customer's history is read from the table, one page each where
-- runs queued them over time.
--
-- The contacts within the contact limits' window: the window's rows only.
CREATE INDEX actions_followups ON actions (ruleset, customer_key, created_at);
-- The latest outcome per action and outcome, read from the index alone.
-- Partial: apply queues rows without an outcome, so it never writes to it.
CREATE INDEX actions_outcomes ON actions (ruleset, customer_key, action, outcome, outcome_at)
    WHERE outcome IS NOT NULL;
