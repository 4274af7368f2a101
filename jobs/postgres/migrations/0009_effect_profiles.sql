-- What the effects report (tierflow effects, and the class report's
-- treated-against-held-out section) reads instead of a year of decisions
-- and history. Counting those at report time costs about 10 CPU-seconds
-- for a year of a million customers (docs/benchmarks.md, "The class
-- report"); the counts a report needs are known for good once a
-- decision's horizon has passed, so the store keeps them.
--
-- Derived data: Store.Maintain fills it after each successful apply, in
-- transactions of its own, from actions and history alone. It can be
-- dropped and rebuilt at any time, and a report that finds it behind
-- counts from actions and history as before.

-- One row per decision of an action with a holdout (not suppressed, not
-- cancelled) and per horizon that has passed: decided_at plus horizon
-- days is not after effect_profile_marks.through.
CREATE TABLE effect_profiles (
    action_id    bigint      NOT NULL,
    horizon      integer     NOT NULL, -- days
    ruleset      text        NOT NULL,
    action       text        NOT NULL,
    customer_key text        NOT NULL,
    decided_at   timestamptz NOT NULL,
    -- The customer's previous decision of the action (by as-of, then
    -- id; not suppressed, not cancelled), NULL for none: a decision is
    -- the customer's first in a period from F when decided_at >= F and
    -- this is NULL or before F.
    prior_at     timestamptz,
    held_out     boolean     NOT NULL,
    segments     text, -- the decision's, as JSON text: reports group by it
    -- Treated decisions of the action for the customer from day 0
    -- through day horizon, this one included; 0 when held out.
    spent        integer     NOT NULL,
    -- Per segmentation, where the customer's last move after day 0 and
    -- by day horizon went ("" for out of every segment), as a JSON
    -- object's text; segmentations without a move are absent, and NULL
    -- means none moved.
    moved_to     text,
    PRIMARY KEY (action_id, horizon)
);
CREATE INDEX effect_profiles_period ON effect_profiles (ruleset, action, decided_at);

-- How far effect_profiles is complete, per rule set and action: every
-- decision and horizon whose day is not after through has its row, and
-- no other. last_run is the latest succeeded apply the rows have seen:
-- an apply after it with an as-of not after through (a run back in
-- time) makes the rows of its period stale.
CREATE TABLE effect_profile_marks (
    ruleset  text        NOT NULL,
    action   text        NOT NULL,
    horizons integer[]   NOT NULL,
    through  timestamptz NOT NULL,
    last_run bigint      NOT NULL,
    PRIMARY KEY (ruleset, action)
);

-- Customers whose rows a change of an action's status made stale (an
-- action cancelled by hand, or retried after that): their decisions
-- count differently now. Reports count those customers from actions and
-- history; Maintain recomputes their rows and removes them from here.
CREATE TABLE effect_profile_stale (
    ruleset      text NOT NULL,
    action       text NOT NULL,
    customer_key text NOT NULL,
    PRIMARY KEY (ruleset, action, customer_key)
);

CREATE FUNCTION effect_profile_stale() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO effect_profile_stale (ruleset, action, customer_key)
    VALUES (OLD.ruleset, OLD.action, OLD.customer_key)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- Only a change between counted and not (suppressed, cancelled) or
-- between treated and held out matters; deliveries, which change status
-- all day, do neither.
CREATE TRIGGER actions_effect_profile_status AFTER UPDATE OF status ON actions
    FOR EACH ROW
    WHEN ((OLD.status IN ('suppressed', 'cancelled')) IS DISTINCT FROM (NEW.status IN ('suppressed', 'cancelled'))
        OR (OLD.status = 'held_out') IS DISTINCT FROM (NEW.status = 'held_out'))
    EXECUTE FUNCTION effect_profile_stale();
CREATE TRIGGER actions_effect_profile_delete AFTER DELETE ON actions
    FOR EACH ROW EXECUTE FUNCTION effect_profile_stale();
