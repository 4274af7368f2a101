package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// errApplyOver is returned by Stage and Commit after the apply ended.
var errApplyOver = errors.New("the apply has already been committed or rolled back")

// BeginApply takes rs's lock and starts an apply. It returns
// jobs.ErrLocked at once when another apply of rs is open. Holding the
// lock proves that any earlier run of rs still 'running' died: those are
// recorded as abandoned, whatever this apply's own outcome.
func (s *Store) BeginApply(ctx context.Context, rs *rules.RuleSet, run jobs.RunInfo) (jobs.ApplyTx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applying[rs.Name] {
		return nil, jobs.ErrLocked
	}
	s.applying[rs.Name] = true
	for i := range s.runs {
		r := &s.runs[i]
		if r.RuleSet == rs.Name && r.Status == string(jobs.StatusRunning) && r.ID < run.ID {
			r.Status, r.Finished = string(jobs.StatusAbandoned), stampPtr(run.Started)
		}
	}
	return &applyTx{s: s, rs: rs, run: run}, nil
}

// applyTx collects an apply's changes; nothing reaches the store before
// Commit.
type applyTx struct {
	s   *Store
	rs  *rules.RuleSet
	run jobs.RunInfo

	mu      sync.Mutex
	assigns []kernel.Assignment
	queued  []kernel.Queued
	marks   []markChange
	done    bool
}

// markChange is a customer's new mark, as kernel.StateChanges stages it.
type markChange struct {
	customer string
	mark     engine.Mark
}

// Stage keeps the changed assignments and actions to queue of a batch.
func (a *applyTx) Stage(ctx context.Context, batch []jobs.Evaluated) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return errApplyOver
	}
	for i := range batch {
		if ev := &batch[i]; !ev.Mark.Equal(ev.Customer.State.Mark) {
			a.marks = append(a.marks, markChange{ev.Customer.Key, ev.Mark})
		}
	}
	return kernel.Changes(a.rs, a.run, batch, func(c *kernel.Assignment) error {
		a.assigns = append(a.assigns, *c)
		return nil
	}, func(q *kernel.Queued) error {
		cp := *q
		cp.Payload = append([]byte(nil), q.Payload...)
		cp.Segments = bytes.Clone(q.Segments)
		a.queued = append(a.queued, cp)
		return nil
	})
}

// Commit applies the staged changes and records the run, in one step
// under the store's mutex, and releases the lock.
func (a *applyTx) Commit(ctx context.Context, sum jobs.RunSummary) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return errApplyOver
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitLocked(a, sum)
	delete(s.applying, a.rs.Name)
	a.done, a.assigns, a.queued, a.marks = true, nil, nil, nil
	return nil
}

// Rollback discards the staged changes and releases the lock; it is
// safe after Commit.
func (a *applyTx) Rollback() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	a.done, a.assigns, a.queued, a.marks = true, nil, nil, nil
	a.s.mu.Lock()
	delete(a.s.applying, a.rs.Name)
	a.s.mu.Unlock()
	return nil
}

// commitLocked is the SQL stores' commit: upsert the assignments,
// delete those of leaves, write a history row where the segment changed
// (to "" for a leave), queue each action unless its
// idempotency key is queued already, keep the latest queued time per
// action and customer, and record the run. s.mu is held.
func (s *Store) commitLocked(a *applyTx, sum jobs.RunSummary) {
	name, runID, asOf := a.rs.Name, a.run.ID, stamp(a.run.AsOf)
	if d := sum.Detail; d != nil && d.Quality != nil {
		rows := make(map[string]int64, len(d.Quality.Sources))
		for _, src := range d.Quality.Sources {
			rows[src.Name] = src.Rows
		}
		if s.sourceRows == nil {
			s.sourceRows = map[int64]map[string]int64{}
		}
		s.sourceRows[runID] = rows
	}
	next := &ruleSet{assignments: map[assignKey]assignment{}, lastQueued: map[actionKey]time.Time{}, marks: map[string]engine.Mark{}}
	if old := s.sets[name]; old != nil {
		next.assignments, next.lastQueued, next.marks = maps.Clone(old.assignments), maps.Clone(old.lastQueued), maps.Clone(old.marks)
	}
	for _, m := range a.marks {
		if m.mark == (engine.Mark{}) {
			delete(next.marks, m.customer)
		} else {
			next.marks[m.customer] = engine.Mark{Wake: stamp(m.mark.Wake), Digest: m.mark.Digest}
		}
	}
	for _, c := range a.assigns {
		k := assignKey{c.Segmentation, c.Customer}
		if c.Leaves() {
			delete(next.assignments, k)
			continue
		}
		next.assignments[k] = assignment{segment: c.Segment,
			since: stamp(c.Since), pendingSince: stamp(c.PendingSince), reason: c.Reason, runID: runID}
	}
	for _, c := range a.assigns {
		if c.Previous != c.Segment {
			s.addHistoryLocked(kernel.HistoryEntry{RuleSet: name, Segmentation: c.Segmentation, From: stringPtr(c.Previous),
				To: c.Segment, Matched: c.Matched, Reason: c.Reason, AsOf: asOf, RunID: runID}, c.Customer)
		}
	}
	for _, q := range a.queued {
		if !s.idempotent[q.IdempotencyKey] {
			s.idempotent[q.IdempotencyKey] = true
			status := q.Status
			if status == "" {
				status = jobs.ActionPending
			}
			s.actions = append(s.actions, kernel.QueuedAction{ID: int64(len(s.actions) + 1), RuleSet: name, Action: q.Action,
				Customer: q.Customer, Payload: q.Payload, Priority: q.Priority, Status: status, CreatedAt: asOf,
				DueAt: stamp(q.Due), RunID: runID, Idempotent: q.IdempotencyKey, Destination: q.Destination,
				Note: q.Note, Segments: segmentsOf(q.Segments)})
		}
		// As in SQL, the cooldown record follows every staged action that
		// starts one, queued now or by an earlier try of the same as-of.
		if !q.StartsCooldown() {
			continue
		}
		k := actionKey{q.Action, q.Customer}
		if last, ok := next.lastQueued[k]; !ok || asOf.After(last) {
			next.lastQueued[k] = asOf
		}
	}
	s.sets[name] = next
	if r := s.runLocked(runID); r != nil {
		s.keepReportLocked(runID, sum.Detail)
		r.Status, r.Finished = string(sum.Status), stampPtr(sum.Finish())
		r.Customers, r.Changed, r.Actions, r.Errors = int64(sum.Customers), int64(sum.Changed), int64(sum.Actions), int64(sum.Errors)
	}
}

func (s *Store) addHistoryLocked(h kernel.HistoryEntry, customer string) {
	h.ID = int64(len(s.history) + 1)
	s.history = append(s.history, h)
	s.byCustomer[customer] = append(s.byCustomer[customer], len(s.history)-1)
	if s.hadHistory == nil {
		s.hadHistory = map[string]bool{}
	}
	s.hadHistory[h.RuleSet] = true
}

// segmentsOf decodes the staged segments JSON, as the SQL stores' JSON
// column keeps it; nil stays nil. kernel.Changes writes a JSON object of
// strings, so it always decodes.
func segmentsOf(b []byte) kernel.Segments {
	if b == nil {
		return nil
	}
	var m kernel.Segments
	_ = json.Unmarshal(b, &m)
	return m
}
