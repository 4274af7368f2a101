package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// FollowUpLoader is implemented by state readers and snapshots that can
// read what coverage targets and contact limits need of a customer's
// follow-up history: the last time each action ended with each outcome
// (engine.State.Outcomes) and the actions queued recently
// (engine.State.Contacts). OpenSnapshot calls it for every batch of a
// rule set that declares coverage or limits, from the same consistent
// view as the rest of the state where the store can.
type FollowUpLoader interface {
	LoadFollowUps(ctx context.Context, batch []engine.Customer, q FollowUpQuery) error
}

// FollowUpQuery says what LoadFollowUps reads.
type FollowUpQuery struct {
	// Outcomes asks for State.Outcomes: per action (of the rule set, by
	// name) and outcome, the latest outcome time at or before Until.
	Outcomes bool
	// Contacts asks for State.Contacts: actions of the rule set queued
	// (created) after ContactsSince and at or before Until, except
	// held-out, suppressed and cancelled ones and segment syncs
	// ("sync.*"). An action the rules no longer define has index -1.
	Contacts      bool
	ContactsSince time.Time
	Until         time.Time
}

// followUpQuery returns what rs needs of the follow-up history at asOf;
// ok is false when it needs nothing.
func followUpQuery(rs *rules.RuleSet, asOf time.Time) (q FollowUpQuery, ok bool) {
	q.Outcomes = rs.HasCoverage()
	if w := rs.Limits.Window(); w > 0 {
		q.Contacts, q.ContactsSince = true, asOf.Add(-w)
	}
	q.Until = asOf
	return q, q.Outcomes || q.Contacts
}

// SnapshotOption configures OpenSnapshot.
type SnapshotOption func(*snapshotConfig)

type snapshotConfig struct {
	asOf time.Time
	// shard narrows the snapshot to a shard's customers (Sharded), and
	// initial, then, is whether the sharded run is the rule set's first.
	shard   Shard
	initial bool
}

// At tells OpenSnapshot the as-of time of the run it feeds: the end of
// the windows of follow-up history that coverage targets and contact
// limits read (FollowUpLoader). A rule set that declares either cannot
// be read without it.
func At(asOf time.Time) SnapshotOption {
	return func(c *snapshotConfig) { c.asOf = asOf }
}

// errNoAsOf is a programming error: a snapshot of a rule set that reads
// follow-up history was opened without At.
var errNoAsOf = errors.New("jobs: a snapshot of a rule set with coverage targets or limits needs jobs.At(asOf)")

// followUps loads the follow-up history of a batch when the rule set
// needs it. A store without a FollowUpLoader cannot run such rule sets.
type followUps struct {
	q      FollowUpQuery
	loader FollowUpLoader
}

func newFollowUps(rs *rules.RuleSet, cfg snapshotConfig, src any) (*followUps, error) {
	if cfg.asOf.IsZero() {
		if _, need := followUpQuery(rs, time.Time{}); need {
			return nil, errNoAsOf
		}
		return nil, nil
	}
	q, need := followUpQuery(rs, cfg.asOf)
	if !need {
		return nil, nil
	}
	l, ok := src.(FollowUpLoader)
	if !ok {
		return nil, fmt.Errorf("rule set %s declares coverage targets or contact limits, which need the follow-up history, but its state store (%T) cannot read it", rs.Name, src)
	}
	return &followUps{q: q, loader: l}, nil
}

func (f *followUps) load(ctx context.Context, batch []engine.Customer) error {
	if f == nil || len(batch) == 0 {
		return nil
	}
	if err := f.loader.LoadFollowUps(ctx, batch, f.q); err != nil {
		return fmt.Errorf("read follow-up history: %w", err)
	}
	return nil
}
