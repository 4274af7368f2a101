package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.ReportSource = (*Store)(nil)

// keepReportLocked stores the report a finished run recorded, as JSON,
// as the SQL stores keep it in runs.detail: what is read back is a copy
// in the documented shape, never the caller's value. s.mu is held.
func (s *Store) keepReportLocked(id int64, rep *jobs.PlanReport) {
	if rep == nil {
		return
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return // a report always marshals; a store in memory has nowhere to say otherwise
	}
	if s.reports == nil {
		s.reports = map[int64][]byte{}
	}
	s.reports[id] = b
}

// RunRecords streams the rule set's runs started in [from, until],
// oldest first by start time and id, with their stored reports. It
// implements jobs.ReportSource. It copies the runs under the store's
// mutex and calls fn without it.
func (s *Store) RunRecords(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.RunRecord) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	from, until = stamp(from), stamp(until)
	type stored struct {
		run    kernel.Run
		detail []byte
	}
	var out []stored
	s.mu.Lock()
	for _, r := range s.runs {
		if r.RuleSet == ruleset && !r.AsOf.Before(from) && !r.AsOf.After(until) {
			out = append(out, stored{r, s.reports[r.ID]})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b stored) int {
		return cmp.Or(a.run.AsOf.Compare(b.run.AsOf), a.run.Started.Compare(b.run.Started), cmp.Compare(a.run.ID, b.run.ID))
	})
	for _, st := range out {
		rec := runRecord(st.run)
		var err error
		if rec.Report, err = kernel.DecodeReport(st.detail); err != nil {
			return fmt.Errorf("run %d: %w", rec.ID, err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

// runRecord is a run of the record as jobs reads it.
func runRecord(r kernel.Run) jobs.RunRecord {
	rec := jobs.RunRecord{ID: r.ID, Kind: r.Kind, AsOf: r.AsOf, Status: jobs.Status(r.Status), Started: r.Started,
		Customers: r.Customers, Changed: r.Changed, Actions: r.Actions, Errors: r.Errors}
	if r.Slot != nil {
		rec.Slot = *r.Slot
	}
	if r.Finished != nil {
		rec.Finished = *r.Finished
	}
	if r.Error != nil {
		rec.Error = *r.Error
	}
	return rec
}

// countKey groups the queue as the SQL stores' GROUP BY does: action,
// status and the segments' JSON text.
type countKey struct{ action, status, segments string }

// ActionCounts streams the counts of the rule set's actions created in
// [from, until] by action, status and segments, segment syncs left out,
// ordered by action, status and segments. It implements
// jobs.ReportSource.
func (s *Store) ActionCounts(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.ActionCount) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	from, until = stamp(from), stamp(until)
	counts := map[countKey]int64{}
	segments := map[string]map[string]string{}
	s.mu.Lock()
	for i := range s.actions {
		q := &s.actions[i]
		if q.RuleSet != ruleset || q.CreatedAt.Before(from) || q.CreatedAt.After(until) || strings.HasPrefix(q.Action, "sync.") {
			continue
		}
		text := ""
		if q.Segments != nil {
			b, _ := json.Marshal(q.Segments) // a map of strings always marshals, its keys sorted
			text = string(b)
		}
		if _, ok := segments[text]; !ok {
			segments[text] = maps.Clone(map[string]string(q.Segments))
			if segments[text] == nil {
				segments[text] = map[string]string{}
			}
		}
		counts[countKey{q.Action, q.Status, text}]++
	}
	s.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b countKey) int {
		return cmp.Or(strings.Compare(a.action, b.action), strings.Compare(a.status, b.status), strings.Compare(a.segments, b.segments))
	})
	for _, k := range keys {
		if err := fn(&jobs.ActionCount{Action: k.action, Status: k.status, Segments: segments[k.segments], Count: counts[k]}); err != nil {
			return err
		}
	}
	return nil
}
