package postgres

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// slotSQL is the shared slot store on the tierflow schema's tables.
func (s *Store) slotSQL() *kernel.SlotSQL {
	return &kernel.SlotSQL{
		DB: s.db.DB, Slots: s.table("slots"), Runs: s.table("runs"),
		Time:      func(t time.Time) any { return t.UTC() },
		ScanTime:  Dialect.Time,
		ForUpdate: " FOR UPDATE",
		Redact:    s.redact,
	}
}

// ClaimSlot inserts the slot, or takes over a claim whose lease lapsed;
// the primary key and a row lock let exactly one replica win. It
// implements jobs.SlotStore.
func (s *Store) ClaimSlot(ctx context.Context, ruleset string, slot time.Time, lease jobs.Lease) (jobs.Claim, error) {
	return s.slotSQL().Claim(ctx, ruleset, slot, lease)
}

// RenewSlot extends owner's claim of the slot to until.
func (s *Store) RenewSlot(ctx context.Context, ruleset string, slot time.Time, owner string, until time.Time) (bool, error) {
	return s.slotSQL().Renew(ctx, ruleset, slot, owner, until)
}

// FinishSlot records the outcome of a run of the slot.
func (s *Store) FinishSlot(ctx context.Context, ruleset string, slot time.Time, status jobs.Status, runID int64) error {
	return s.slotSQL().Finish(ctx, ruleset, slot, status, runID)
}

// ReleaseSlot ends owner's claim at now, for another replica to take.
func (s *Store) ReleaseSlot(ctx context.Context, ruleset string, slot time.Time, owner string, now time.Time) error {
	return s.slotSQL().Release(ctx, ruleset, slot, owner, now)
}

// MarkMissed records slots that will not run, each with a 'missed' run
// record so that `tierflow runs` shows them.
func (s *Store) MarkMissed(ctx context.Context, ruleset string, slots []time.Time, now time.Time) (int, error) {
	return s.slotSQL().MarkMissed(ctx, ruleset, slots, now)
}

// LastSlot returns the latest recorded slot of a rule set.
func (s *Store) LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error) {
	return s.slotSQL().Last(ctx, ruleset)
}

// OpenSlots returns the rule set's claimed, unfinished slots.
func (s *Store) OpenSlots(ctx context.Context, ruleset string) ([]jobs.OpenSlot, error) {
	return s.slotSQL().Open(ctx, ruleset)
}
