package jobs

import (
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// IncrementalReport is what the marks the state keeps (engine.Mark) say
// of a run's customers: how many need evaluating, by the first reason
// that applies, and how many are asleep. A run with
// Options.Incremental leaves the asleep ones out (Skipped); otherwise
// Drift checks the marks against their evaluation.
type IncrementalReport struct {
	// Enabled is true when the run was to leave asleep customers out
	// (Options.Incremental).
	Enabled bool `json:"enabled"`
	// Full, when set, says why the marks do not hold for this run, so an
	// incremental run would evaluate every customer: the rules changed
	// since the last successful run, its as-of is later, there is none.
	// The counts below are then 0 but Evaluate.
	Full string `json:"full,omitempty"`
	// Evaluate is the sum of the reasons: Left, New, Changed, Waking and
	// FollowUps; every customer when Full is set.
	Evaluate int `json:"evaluate"`
	// Left are customers the state knows that no source returned.
	Left int `json:"left"`
	// New have no mark: new customers, and those no apply has evaluated
	// since the state kept marks (schema version 8).
	New int `json:"new"`
	// Changed have facts unlike those they were last evaluated with (by
	// their digest), or facts with errors.
	Changed int `json:"changed"`
	// Waking have a wake-up time no later than the run's as-of, those
	// woken on every run included.
	Waking int `json:"waking"`
	// FollowUps have follow-up outcomes or contacts (rule sets with
	// coverage targets or contact limits), which the marks do not cover:
	// they are evaluated on every run.
	FollowUps int `json:"follow_ups"`
	// Asleep need no evaluation: same facts, wake-up time still ahead.
	Asleep int `json:"asleep"`
	// Drift counts asleep customers whose evaluation changed something
	// all the same: a move, a pending downgrade started or ended, an
	// action queued or withheld, a rule error. It is 0 unless a wake-up
	// time was wrong; DriftSamples lists up to 10 of them.
	Drift        int      `json:"drift"`
	DriftSamples []string `json:"drift_samples,omitempty"`
	// Skipped is how many of the asleep customers the run left
	// unevaluated (jobs.Options.Incremental); their drift is not known.
	Skipped int `json:"skipped"`
	// NotRead is how many of the skipped customers the run did not even
	// read (jobs.ChangedReader): their facts stayed in the database.
	NotRead int `json:"not_read"`
	// ReadsAll, for a run with Options.Incremental that is not full, says
	// why it read every customer, even those it skipped.
	ReadsAll string `json:"reads_all,omitempty"`
	// InDatabase is true when the database ran the rules, translated to
	// SQL, on the customers the marks would have read, and the run left
	// unread those it found unchanged (no move, no pending downgrade
	// started or ended, no action, no error) with the asleep ones: Changed
	// and Waking then count only the customers it read. NotInDatabase
	// says why it did not, for a run on PostgreSQL that read only who can
	// have changed (other stores have no translation to run).
	InDatabase    bool   `json:"in_database"`
	NotInDatabase string `json:"not_in_database,omitempty"`
	// Decided counts, in a run the marks did not hold for (Full) but
	// which the rules' change alone made full, the customers the
	// database ran the rules on and left unread, unchanged; such a run
	// reads only the others (Evaluate). StaleMarks is then true: the
	// marks of those it left unread were made under other rules, so the
	// next run does not trust them either (see fullReason).
	Decided    int  `json:"decided,omitempty"`
	StaleMarks bool `json:"stale_marks,omitempty"`
	// Checked counts the customers the database decided unchanged that
	// the run read and evaluated all the same (one in 64, another share
	// each day), to check the database against the engine; Misdecided
	// those of them whose evaluation changed something (a move, a
	// pending date, an action, a rule error), which the run applied as
	// the engine decided. It is 0 unless the SQL translation is wrong, a
	// bug to report with MisdecidedSamples, up to 10 of their keys.
	Checked           int      `json:"checked,omitempty"`
	Misdecided        int      `json:"misdecided,omitempty"`
	MisdecidedSamples []string `json:"misdecided_samples,omitempty"`
	// ChangeColumn, ChangedSince and ChangedThrough, for a run that read
	// only who can have changed from a source with a change column
	// (Source.ChangeColumn): the column, the time after which the rows
	// whose digests it compared changed (zero: every row), and the
	// column's latest value, from which the next run with the same column
	// starts (less the source's change_lookback).
	ChangeColumn   string    `json:"change_column,omitempty"`
	ChangedSince   time.Time `json:"changed_since,omitzero"`
	ChangedThrough time.Time `json:"changed_through,omitzero"`
}

// maxDriftSamples is how many drifting customers a report names.
const maxDriftSamples = 10

// wakeReason is why an incremental run would evaluate a customer.
type wakeReason int

const (
	reasonAsleep wakeReason = iota
	reasonFull
	reasonLeft
	reasonNew
	reasonChanged
	reasonWaking
	reasonFollowUps
)

// classify is why an incremental run at w.asOf would evaluate c, whose
// facts have the digest digest (0: none).
func (w *evaluator) classify(c *engine.Customer, digest uint64) wakeReason {
	m := c.State.Mark
	switch {
	case w.full:
		return reasonFull
	case c.Absent:
		return reasonLeft
	case m.Equal(engine.Mark{}):
		return reasonNew
	case digest == 0 || digest != m.Digest || len(c.FactErrors) > 0:
		return reasonChanged
	case !m.Wake.IsZero() && !m.Wake.After(w.asOf):
		return reasonWaking
	case len(c.State.Outcomes) > 0 || len(c.State.Contacts) > 0:
		return reasonFollowUps
	}
	return reasonAsleep
}

// count adds a customer classified r, whose evaluation res changed
// something when changed is true.
func (r *IncrementalReport) count(reason wakeReason, key string, changed bool) {
	switch reason {
	case reasonLeft:
		r.Left++
	case reasonNew:
		r.New++
	case reasonChanged:
		r.Changed++
	case reasonWaking:
		r.Waking++
	case reasonFollowUps:
		r.FollowUps++
	case reasonAsleep:
		r.Asleep++
		if changed {
			r.Drift++
			if len(r.DriftSamples) < maxDriftSamples {
				r.DriftSamples = append(r.DriftSamples, key)
			}
		}
		return
	}
	r.Evaluate++
}

// checked counts a customer the database decided unchanged and the run
// evaluated all the same; misdecided is true when its evaluation changed
// something.
func (r *IncrementalReport) checked(key string, misdecided bool) {
	r.Checked++
	if misdecided {
		r.Misdecided++
		if len(r.MisdecidedSamples) < maxDriftSamples {
			r.MisdecidedSamples = append(r.MisdecidedSamples, key)
		}
	}
}

// fullReason says why the marks of rs's customers do not hold for a run
// at asOf after the last successful run prev (nil: none), "" when they
// do: marks are made by evaluating the same rules (their hash covers the
// params and the facts schema) at an earlier or the same as-of. With a
// schedule of full runs (Options.FullSchedule), a run is full when one of
// its slots came since prev.
func fullReason(rs *rules.RuleSet, asOf time.Time, prev *PreviousRun, initial bool, fullEvery Schedule) string {
	if !initial && prev != nil && prev.RulesHash == rs.Hash && !asOf.Before(prev.AsOf) {
		if slot := slotSince(prev, asOf, fullEvery); !slot.IsZero() {
			return fmt.Sprintf("the full_schedule slot %s came since run %d", slot.Format(time.RFC3339), prev.ID)
		}
	}
	switch {
	case initial:
		return "the rule set's first run"
	case prev == nil:
		return "no successful run to compare with"
	case prev.RulesHash != rs.Hash:
		return fmt.Sprintf("the rules changed since run %d", prev.ID)
	case prev.StaleMarks:
		return fmt.Sprintf("run %d left unread customers with marks made under earlier rules", prev.ID)
	case asOf.Before(prev.AsOf):
		return fmt.Sprintf("the as-of is before run %d's (%s)", prev.ID, prev.AsOf.UTC().Format(time.RFC3339))
	}
	return ""
}

// decidesAll reports whether a run that fullReason makes full may still
// leave unread the customers the database finds unchanged
// (ChangedQuery.DecidedOnly): only when the rules' change made it full,
// or an earlier such run's stale marks; not a first run, an earlier
// as-of or a full_schedule slot, which ask the engine to evaluate
// everyone and check the marks.
func decidesAll(rs *rules.RuleSet, asOf time.Time, prev *PreviousRun, initial bool, fullEvery Schedule) bool {
	if initial || prev == nil || asOf.Before(prev.AsOf) || !slotSince(prev, asOf, fullEvery).IsZero() {
		return false
	}
	return prev.RulesHash != rs.Hash || prev.StaleMarks
}

// slotSince is the first slot of fullEvery after run prev's as-of, when
// it is not after asOf: a full run is due. Zero for none, or no schedule.
func slotSince(prev *PreviousRun, asOf time.Time, fullEvery Schedule) time.Time {
	if fullEvery == nil {
		return time.Time{}
	}
	if slot := fullEvery.Next(prev.AsOf); !slot.IsZero() && !slot.After(asOf) {
		return slot
	}
	return time.Time{}
}

// merge adds o's counts to r.
func (r *IncrementalReport) merge(o *IncrementalReport) {
	r.Evaluate += o.Evaluate
	r.Left += o.Left
	r.New += o.New
	r.Changed += o.Changed
	r.Waking += o.Waking
	r.FollowUps += o.FollowUps
	r.Asleep += o.Asleep
	r.Drift += o.Drift
	r.Skipped += o.Skipped
	r.NotRead += o.NotRead
	r.Decided += o.Decided
	r.Checked += o.Checked
	r.Misdecided += o.Misdecided
	r.MisdecidedSamples = appendUpTo(r.MisdecidedSamples, o.MisdecidedSamples, maxDriftSamples)
	for _, k := range o.DriftSamples {
		if len(r.DriftSamples) < maxDriftSamples {
			r.DriftSamples = append(r.DriftSamples, k)
		}
	}
}
