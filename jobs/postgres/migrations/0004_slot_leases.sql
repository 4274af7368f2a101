-- Slot leases (docs/operations.md, "What serve guarantees"). A replica
-- claims a slot until lease_until and renews the claim while the slot's
-- run lasts; a claim whose lease has ended (its replica was killed, or
-- released the slot on shutdown) is taken over by another replica, run
-- within the starting deadline, or recorded as missed: a slot no longer
-- stays 'claimed' forever. Leases are written from the replicas' clocks,
-- never from the database's.
--
-- Claims recorded before this migration, and any that an older tierflow
-- still running during the upgrade records (it does not write the
-- column), hold a lease of one hour from their claim: the stuck ones
-- lapse and are then run or recorded as missed.
ALTER TABLE slots ADD COLUMN lease_until timestamptz;
UPDATE slots SET lease_until = claimed_at + interval '1 hour';
ALTER TABLE slots
    ALTER COLUMN lease_until SET DEFAULT now() + interval '1 hour',
    ALTER COLUMN lease_until SET NOT NULL;
-- The claims still open, which every replica looks at every lease/3.
CREATE INDEX slots_open ON slots (ruleset, slot) WHERE status = 'claimed';

-- A run that shutdown cancelled is 'cancelled', not 'failed': its slot is
-- released and runs again.
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'succeeded', 'blocked', 'failed', 'skipped', 'abandoned', 'missed', 'cancelled'));
