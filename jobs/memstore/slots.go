package memstore

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// slotKey is a rule set and a slot time, to the microsecond.
type slotKey struct {
	ruleset string
	at      int64 // Unix microseconds
}

func keyOf(ruleset string, t time.Time) slotKey { return slotKey{ruleset, stamp(t).UnixMicro()} }

// slot is one recorded slot.
type slot struct {
	at     time.Time
	status string // claimed, missed, or the outcome of its run
	owner  string
	runID  int64
}

// missedError is the error of a missed slot's run record.
const missedError = "no replica ran this slot within the starting deadline"

// ClaimSlot records the slot as claimed by owner; it returns false when
// the slot is recorded already.
func (s *Store) ClaimSlot(ctx context.Context, ruleset string, at time.Time, owner string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := keyOf(ruleset, at)
	if s.slots[k] != nil {
		return false, nil
	}
	s.slots[k] = &slot{at: stamp(at), status: "claimed", owner: owner}
	return true, nil
}

// FinishSlot records a slot's outcome and run.
func (s *Store) FinishSlot(ctx context.Context, ruleset string, at time.Time, status jobs.Status, runID int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[keyOf(ruleset, at)]; sl != nil {
		sl.status, sl.runID = string(status), runID
	}
	return nil
}

// ReleaseSlot forgets a slot that is still only claimed.
func (s *Store) ReleaseSlot(ctx context.Context, ruleset string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := keyOf(ruleset, at)
	if sl := s.slots[k]; sl != nil && sl.status == "claimed" {
		delete(s.slots, k)
	}
	return nil
}

// MarkMissed records each slot not recorded yet as missed, with a
// 'missed' run record so that the run list shows it.
func (s *Store) MarkMissed(ctx context.Context, ruleset string, slots []time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := stamp(time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range slots {
		k := keyOf(ruleset, at)
		if s.slots[k] != nil {
			continue // run, or recorded by another replica
		}
		s.slots[k] = &slot{at: stamp(at), status: "missed"}
		msg, finished, when := missedError, now, stamp(at)
		s.addRunLocked(kernel.Run{RuleSet: ruleset, Kind: "scheduled", AsOf: when, Slot: &when,
			Status: "missed", Started: now, Finished: &finished, Error: &msg})
	}
	return nil
}

// LastSlot returns the latest recorded slot of the rule set.
func (s *Store) LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	found := false
	for k, sl := range s.slots {
		if k.ruleset == ruleset && (!found || sl.at.After(last)) {
			last, found = sl.at, true
		}
	}
	return last, found, nil
}
