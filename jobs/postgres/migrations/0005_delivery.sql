-- Delivery by tierflow (docs/queue.md, issue 12). An action whose rule
-- names a destination (deliver_to:) is claimed by tierflow's delivery
-- workers under a lease; one without (destination NULL, as every row
-- queued before this migration) stays for consumers that claim it with
-- SQL, as before.
--
-- lease_owner and lease_until are the worker holding a claimed action and
-- when its lease runs out, from the worker's clock; a claimed action whose
-- lease has run out is claimable again. 'dead' is an action delivery gave
-- up on; 'cancelled' one cancelled by hand.
ALTER TABLE actions
    ADD COLUMN destination text,
    ADD COLUMN lease_owner text,
    ADD COLUMN lease_until timestamptz;
ALTER TABLE actions DROP CONSTRAINT actions_status_check;
ALTER TABLE actions ADD CONSTRAINT actions_status_check
    CHECK (status IN ('pending', 'claimed', 'done', 'failed', 'dead', 'cancelled'));
-- The claim query: due or lapsed actions of some destinations, by
-- priority, due time and id.
CREATE INDEX actions_claim ON actions (destination, priority, due_at, id)
    WHERE status IN ('pending', 'claimed') AND destination IS NOT NULL;

-- Every attempt to deliver an action, for `tierflow actions show`.
CREATE TABLE action_attempts (
    id          bigserial   PRIMARY KEY,
    action_id   bigint      NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_us bigint      NOT NULL,
    http_status integer,
    error       text,
    response    text
);
CREATE INDEX action_attempts_action ON action_attempts (action_id, attempt);
