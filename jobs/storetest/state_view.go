package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// loadBatch is how many customers one StateReader.Load reads.
const loadBatch = 500

// states reads the state of every customer with a key in keys through
// a StateReader of s, as an apply with facts from elsewhere does.
func states(t testing.TB, s jobs.StateStore, rs *rules.RuleSet, keys []string) (map[string]engine.State, bool) {
	t.Helper()
	ctx := context.Background()
	r, err := s.OpenState(ctx, rs)
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	defer r.Close()
	out := make(map[string]engine.State, len(keys))
	for from := 0; from < len(keys); from += loadBatch {
		batch := make([]engine.Customer, 0, loadBatch)
		for _, k := range keys[from:min(from+loadBatch, len(keys))] {
			batch = append(batch, engine.Customer{Key: k})
		}
		if err := r.Load(ctx, batch); err != nil {
			t.Fatalf("load state: %v", err)
		}
		for _, c := range batch {
			out[c.Key] = c.State
		}
	}
	return out, r.Initial()
}

// states reads every customer's state in rs.
func (e *stateEnv) states(rs *rules.RuleSet) map[string]engine.State {
	e.t.Helper()
	st, _ := states(e.t, e.s, rs, e.f.keys())
	return st
}

// sizes counts the customers in each segment: segmentation -> segment
// -> customers.
func sizes(rs *rules.RuleSet, st map[string]engine.State) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, seg := range rs.Segmentations {
		out[seg.Name] = map[string]int{}
	}
	for _, s := range st {
		for i, a := range s.Segments {
			if a.Segment != "" {
				out[rs.Segmentations[i].Name][a.Segment]++
			}
		}
	}
	return out
}

// sameSizes fails unless the segments hold as many customers as the
// report says there are after its run.
func sameSizes(t testing.TB, rs *rules.RuleSet, st map[string]engine.State, r *jobs.PlanReport) {
	t.Helper()
	got := sizes(rs, st)
	for _, sr := range r.Segmentations {
		for _, seg := range sr.Segments {
			if seg.Name != "(removed)" && got[sr.Name][seg.Name] != seg.After {
				t.Fatalf("%s.%s holds %d customers, the report says %d", sr.Name, seg.Name, got[sr.Name][seg.Name], seg.After)
			}
		}
	}
}

// view digests everything the store knows of the customers of e's facts
// through its interfaces: their state in rs, their history in every
// rule set and the whole queue. withIDs keeps the surrogate ids (of
// history entries, actions and runs); two stores that reached the same
// state by different paths agree without them.
func (e *stateEnv) view(rs *rules.RuleSet, withIDs bool) map[string]string {
	e.t.Helper()
	keys := e.f.keys()
	st, _ := states(e.t, e.s, rs, keys)
	var assigned, last, hist, queue []string
	for _, k := range keys {
		s := st[k]
		for i, a := range s.Segments {
			assigned = append(assigned, fmt.Sprintf("%s|%s|%s|%s|%s", k, rs.Segmentations[i].Name, a.Segment, ts(a.Since), ts(a.PendingSince)))
		}
		for i, at := range s.LastActions {
			if !at.IsZero() {
				last = append(last, fmt.Sprintf("%s|%s|%s", k, rs.Actions[i].Name, ts(at)))
			}
		}
		for _, h := range e.history("", k) {
			from := "<nil>"
			if h.From != nil {
				from = *h.From
			}
			line := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s", k, h.RuleSet, h.Segmentation, from, h.To, h.Matched, h.Reason, ts(h.AsOf))
			if withIDs {
				line += fmt.Sprintf("|%d|%d", h.ID, h.RunID)
			}
			hist = append(hist, line)
		}
	}
	seen := map[string]bool{}
	for _, q := range e.queue(kernel.ActionFilter{}) {
		if seen[q.Idempotent] {
			e.t.Fatalf("idempotency key %s is queued twice", q.Idempotent)
		}
		seen[q.Idempotent] = true
		lastErr := "<nil>"
		if q.LastError != nil {
			lastErr = *q.LastError
		}
		line := fmt.Sprintf("%s|%s|%s|%s|%d|%s|%s|%s|%d|%s|%s", q.RuleSet, q.Action, q.Customer, q.Payload, q.Priority,
			q.Status, ts(q.CreatedAt), ts(q.DueAt), q.Attempts, lastErr, q.Idempotent)
		if withIDs {
			line += fmt.Sprintf("|%d|%d", q.ID, q.RunID)
		}
		queue = append(queue, line)
	}
	return map[string]string{"assignments": digestLines(assigned), "last actions": digestLines(last),
		"history": digestLines(hist), "actions": digestLines(queue)}
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// digestLines is the number of lines and a hash of them in sorted order.
func digestLines(lines []string) string {
	sorted := append([]string(nil), lines...)
	sort.Strings(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return fmt.Sprintf("%d rows %x", len(sorted), sum[:8])
}
