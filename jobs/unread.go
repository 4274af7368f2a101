package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// ChangedReader is implemented by snapshots that can leave unread the
// customers an incremental run would not evaluate: those the state has a
// mark for (engine.Mark) whose facts have the same digest, computed where
// the facts are, whose wake-up time is still ahead of the run's as-of,
// and who have no contact in the window follow (when set) asks for. The
// SQL stores' joined snapshot is one.
type ChangedReader interface {
	// ReadChanged makes Stream hand out only the other customers (new
	// ones, those whose facts changed or whose wake-up time has come,
	// those with contacts within the follow-ups' window, and those the
	// state knows that the source no longer returns). It must
	// be called before Stream. When the snapshot cannot tell them apart
	// for this run, it says why, and Stream reads everyone. Once it has
	// narrowed the snapshot, Keys (StateKeys) lists only those who left,
	// and is called when Stream has been read to the end: by then the
	// counts can show that nobody left, and Keys need not look.
	ReadChanged(ctx context.Context, q ChangedQuery) (why string, err error)
	// Unread is what the run needs of the customers left unread, once
	// Stream and Keys (StateKeys) have been read to the end.
	Unread() (*Unread, error)
}

// ChangedQuery is what an incremental run asks of a ChangedReader.
type ChangedQuery struct {
	// AsOf is the run's as-of: customers whose wake-up time is not after
	// it are read.
	AsOf time.Time
	// Follow, when set, asks for the customers with contacts within its
	// window too.
	Follow *FollowUpQuery
	// ChangeColumn is the source's change column (Source.ChangeColumn),
	// "" for none. With ChangedSince set, only the rows whose change
	// column is after it (or NULL) have their digests compared; the
	// others are read only when their wake-up time has come or they have
	// contacts. Either way Unread says how far the column goes.
	ChangeColumn string
	ChangedSince time.Time
	// EngineOnly leaves the decision of who is read to the marks alone:
	// the database does not run the rules (IncrementalReport.InDatabase).
	EngineOnly bool
	// DecidedOnly, for a run the marks do not hold for, reads every
	// customer but those the database, running the rules, finds
	// unchanged; the marks play no part. A reader that cannot decide
	// says why, and Stream reads everyone.
	DecidedOnly bool
}

// Unread is what a run counts of the customers it left unread
// (ChangedReader): they keep their segments, queue nothing and have no
// error, so their segment sizes and the facts' data-quality counts are
// all it needs.
type Unread struct {
	// Customers is how many there are: one source row each.
	Customers int64
	// Groups counts them by their segment in each segmentation of the
	// rule set, in its order ("" for none).
	Groups []UnreadGroup
	// Nulls counts, per fact of the rule set (in schema order), the
	// unread customers for whom it is null; Newest is the latest value of
	// each time fact over the whole source, read customers included (zero:
	// none, or not a time fact).
	Nulls  []int64
	Newest []time.Time
	// ChangedThrough is the latest value of the change column
	// (ChangedQuery.ChangeColumn) over the whole source; zero when there
	// is none, or no value.
	ChangedThrough time.Time
	// Decided is true when the database ran the rules on the customers
	// the marks select and left unread those they leave unchanged too;
	// NotDecided says why it did not, where it could have.
	Decided    bool
	NotDecided string
}

// UnreadGroup is the number of unread customers with one combination of
// segments.
type UnreadGroup struct {
	Segments  []string
	Customers int64
}

// readChanged narrows snap to the customers an incremental run at asOf
// must evaluate, where it can, and otherwise says why every customer is
// read. Only a snapshot OpenSnapshot made over a ChangedReader narrows,
// and only for rule sets that need nothing of the others but their
// segments and null counts. Once snap is streamed, unreadOf has the
// counts of the others.
func readChanged(ctx context.Context, snap Snapshot, rs *rules.RuleSet, asOf time.Time, prev *PreviousRun, engineOnly, decidedOnly bool) (string, error) {
	s, ok := snap.(*snapshot)
	if !ok {
		if rs.HasDerived() {
			return "derived facts are computed from every customer's transactions", nil
		}
		return "the snapshot cannot leave customers unread", nil
	}
	if !s.shard.IsZero() {
		return "a sharded run reads every customer of its shard", nil
	}
	cr, ok := s.joined.(ChangedReader)
	if !ok {
		return "the facts are not read in the state's database, so their digests cannot be compared there", nil
	}
	var follow *FollowUpQuery
	if s.follow != nil {
		if s.follow.q.Outcomes {
			return "the rule set reads follow-up outcomes, which marks do not cover", nil
		}
		follow = &s.follow.q // customers with contacts are read
	}
	for _, f := range rs.Facts.Fields {
		if factHasValueChecks(&f) {
			return fmt.Sprintf("facts.%s declares value checks (%s), which need every customer's value", f.Name, factCheckNames(&f)), nil
		}
	}
	q := ChangedQuery{AsOf: asOf, Follow: follow, ChangeColumn: s.sources[0].ChangeColumn, EngineOnly: engineOnly, DecidedOnly: decidedOnly}
	if decidedOnly {
		q.ChangeColumn = "" // every row is decided
	}
	// The last run's latest change counts only if it is of the same
	// column: after a switch of column every digest is compared once.
	if q.ChangeColumn != "" && prev != nil && prev.ChangeColumn == q.ChangeColumn && !prev.ChangedThrough.IsZero() {
		q.ChangedSince = prev.ChangedThrough.Add(-s.sources[0].changeLookback())
	}
	why, err := cr.ReadChanged(ctx, q)
	if err != nil || why != "" {
		return why, err
	}
	s.changed, s.changedQuery = cr, q
	return "", nil
}

// unreadOf is what the streamed snapshot snap left unread, and what
// readChanged asked of it; nil when it read everyone.
func unreadOf(snap Snapshot) (*Unread, ChangedQuery) {
	if s, ok := snap.(*snapshot); ok {
		return s.unread, s.changedQuery
	}
	return nil, ChangedQuery{}
}

// finishUnread takes the counts of the customers the narrowed snapshot
// left unread, once it is streamed, and counts them in the pass's
// data-quality figures.
func (s *snapshot) finishUnread() error {
	u, err := s.changed.Unread()
	if err != nil {
		return err
	}
	if len(u.Nulls) != len(s.rs.Facts.Fields) || len(u.Newest) != len(s.rs.Facts.Fields) {
		return fmt.Errorf("read the customers of %s left unread: %d null counts and %d newest values for %d facts", s.rs.Name, len(u.Nulls), len(u.Newest), len(s.rs.Facts.Fields))
	}
	s.unread = u
	s.q.addUnread(u)
	// ReadChanged found no duplicate key: one row per customer.
	s.stats[0].Rows += u.Customers
	s.stats[0].Customers += u.Customers
	return nil
}

// addUnread counts the unread customers u into plan and r: each stays
// where it is, asleep and skipped. q is what the run asked of the
// snapshot: how far its change column was read.
func addUnread(plan *engine.Plan, r *IncrementalReport, u *Unread, q ChangedQuery) {
	for _, g := range u.Groups {
		plan.AddUnchanged(g.Segments, int(g.Customers))
	}
	if q.ChangeColumn != "" {
		r.ChangeColumn, r.ChangedSince, r.ChangedThrough = q.ChangeColumn, q.ChangedSince, u.ChangedThrough
	}
	r.InDatabase, r.NotInDatabase = u.Decided, u.NotDecided
	n := int(u.Customers)
	r.NotRead += n
	if q.DecidedOnly {
		r.Decided += n
		r.StaleMarks = n > 0
		return
	}
	r.Asleep += n
	r.Skipped += n
}

// addUnread counts the facts of the customers u left unread: they have
// no invalid value (a customer with fact errors wakes on every run) and
// break no value check (rule sets that declare any read everyone). The
// newest values are the whole source's, which the read customers' are
// among.
func (q *collector) addUnread(u *Unread) {
	for k := range q.facts {
		st := &q.facts[k]
		st.nulls += u.Nulls[k]
		if t := u.Newest[k]; t.After(st.newest) {
			st.newest = t
		}
	}
	// Only a snapshot of one source narrows: the primary one.
	if k := q.freshAt[0]; k >= 0 && u.Newest[k].After(q.newest[0]) {
		q.newest[0] = u.Newest[k]
	}
}
