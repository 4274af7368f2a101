-- tierflow's state: current assignments, their history, the action queue,
-- and the record of every run. Runs inside the tierflow schema (search_path).

CREATE TABLE runs (
    id           bigserial   PRIMARY KEY,
    ruleset      text        NOT NULL,
    rules_hash   text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'apply',
    as_of        timestamptz NOT NULL,
    slot         timestamptz,
    status       text        NOT NULL CHECK (status IN ('running', 'succeeded', 'blocked', 'failed', 'skipped', 'abandoned', 'missed')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    customers    bigint      NOT NULL DEFAULT 0,
    changed      bigint      NOT NULL DEFAULT 0,
    actions      bigint      NOT NULL DEFAULT 0,
    errors       bigint      NOT NULL DEFAULT 0,
    detail       jsonb,
    error        text
);
CREATE INDEX runs_ruleset_started ON runs (ruleset, started_at DESC);

-- One row per customer and segmentation: where the customer is now.
CREATE TABLE assignments (
    ruleset       text        NOT NULL,
    segmentation  text        NOT NULL,
    customer_key  text        NOT NULL,
    segment       text        NOT NULL,
    since         timestamptz NOT NULL,
    pending_since timestamptz,
    reason        text        NOT NULL,
    run_id        bigint      NOT NULL,
    PRIMARY KEY (ruleset, segmentation, customer_key)
);

-- Every move, so "why is customer 42 at risk since March?" has an answer.
CREATE TABLE history (
    id            bigserial   PRIMARY KEY,
    ruleset       text        NOT NULL,
    segmentation  text        NOT NULL,
    customer_key  text        NOT NULL,
    from_segment  text,
    to_segment    text        NOT NULL,
    matched       text        NOT NULL,
    reason        text        NOT NULL,
    as_of         timestamptz NOT NULL,
    run_id        bigint      NOT NULL
);
CREATE INDEX history_customer ON history (ruleset, customer_key, id);

-- The action queue other systems consume (docs/queue.md).
CREATE TABLE actions (
    id              bigserial   PRIMARY KEY,
    ruleset         text        NOT NULL,
    action          text        NOT NULL,
    customer_key    text        NOT NULL,
    payload         jsonb       NOT NULL DEFAULT '{}',
    priority        integer     NOT NULL DEFAULT 0,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done', 'failed')),
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    claimed_at      timestamptz,
    finished_at     timestamptz,
    last_error      text,
    idempotency_key text        NOT NULL UNIQUE,
    run_id          bigint      NOT NULL
);
CREATE INDEX actions_ready ON actions (priority, due_at) WHERE status = 'pending';
CREATE INDEX actions_customer ON actions (ruleset, customer_key, action);

-- When each action was last queued per customer: the cooldown index,
-- kept in step with the queue by every apply.
CREATE TABLE action_last (
    ruleset      text        NOT NULL,
    action       text        NOT NULL,
    customer_key text        NOT NULL,
    queued_at    timestamptz NOT NULL,
    PRIMARY KEY (ruleset, action, customer_key)
);
