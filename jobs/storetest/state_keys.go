package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var stateKeysCases = []stateCase{
	{"StateKeys lists the customers the state knows, in byte order, from the reader's view", testStateKeys},
	{"LastSucceeded reads the source row counts of the run's stored report", testStateSourceRows},
}

// A state reader lists every customer with any assignment in the rule
// set, each once, in ascending byte order and in batches of at most the
// size asked, as the state was when the reader opened: a commit after
// does not show. Load may run from within Keys' callback (a merge looks
// up customers while it lists them). Another rule set's customers are
// not listed.
func testStateKeys(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 0)
	rs := RetailRuleSet(t)
	// The keys' byte order differs from numeric order ("10" before "9"),
	// from case-insensitive order ("B" before "a") and from most locales'
	// order ("ä" last). "B" is assigned in the first segmentation only:
	// any assignment counts.
	e.commitSegments(rs, day(0), []string{"ä", "9", "a", "10"}, len(rs.Segmentations))
	e.commitSegments(rs, day(0), []string{"B"}, 1)

	r, err := e.s.OpenState(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sk, ok := r.(jobs.StateKeys)
	if !ok {
		t.Fatalf("the state reader %T does not implement jobs.StateKeys", r)
	}
	e.commitSegments(rs, day(1), []string{"0", "ab"}, len(rs.Segmentations)) // after the reader opened

	var batches [][]string
	err = sk.Keys(ctx, 2, func(keys []string) error {
		batches = append(batches, keys)
		batch := customers(keys)
		if err := sk.Load(ctx, batch); err != nil {
			return fmt.Errorf("load while listing keys: %w", err)
		}
		for _, c := range batch {
			if !slices.ContainsFunc(c.State.Segments, func(a engine.Assignment) bool { return a.Segment != "" }) {
				return fmt.Errorf("customer %s, listed, has no segment: %+v", c.Key, c.State)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"10", "9"}, {"B", "a"}, {"ä"}}; !slices.EqualFunc(batches, want, slices.Equal) {
		t.Fatalf("Keys in batches of 2 = %q, want %q", batches, want)
	}

	after, err := e.s.OpenState(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if got, want := allKeys(t, after.(jobs.StateKeys), 1000), []string{"0", "10", "9", "B", "a", "ab", "ä"}; !slices.Equal(got, want) {
		t.Fatalf("Keys of a reader opened after the second commit = %q, want %q", got, want)
	}
	other, err := e.s.OpenState(ctx, renamed(t, copyName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got := allKeys(t, other.(jobs.StateKeys), 1000); len(got) != 0 {
		t.Fatalf("Keys of a rule set with no state = %q, want none", got)
	}
}

// allKeys reads every key a StateKeys lists.
func allKeys(t *testing.T, sk jobs.StateKeys, batchSize int) []string {
	t.Helper()
	var out []string
	err := sk.Keys(context.Background(), batchSize, func(keys []string) error {
		if len(keys) == 0 || len(keys) > batchSize {
			return fmt.Errorf("a batch of %d keys, asked at most %d", len(keys), batchSize)
		}
		out = append(out, keys...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// commitSegments commits a run that puts each of keys in the first
// segment of the first n segmentations of rs.
func (e *stateEnv) commitSegments(rs *rules.RuleSet, at time.Time, keys []string, n int) {
	e.t.Helper()
	evaluated := make([]jobs.Evaluated, len(keys))
	for i, k := range keys {
		res := &engine.Result{Segments: make([]engine.Decision, len(rs.Segmentations))}
		for j, seg := range rs.Segmentations[:n] {
			name := seg.Segments[0].Name
			res.Segments[j] = engine.Decision{Assignment: engine.Assignment{Segment: name}, Matched: name, Reason: engine.ReasonMatched}
		}
		c := &engine.Customer{Key: k, State: engine.State{Segments: make([]engine.Assignment, len(rs.Segmentations))}}
		evaluated[i] = jobs.Evaluated{Customer: c, Result: res}
	}
	tx, _ := e.beginAt(rs, at)
	defer tx.Rollback() //nolint:errcheck
	stage(e.t, tx, evaluated)
	if err := tx.Commit(context.Background(), jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: at, Customers: len(keys), Changed: len(keys)}); err != nil {
		e.t.Fatal(err)
	}
}

// The source row counts of a rule set's last succeeded run
// (PreviousRun.SourceRows, for max_row_change) are those of the quality
// section of the report stored with the run: as an apply records it,
// and as a commit with a report of several sources does. A run whose
// report has no quality section (recorded before data-quality checks)
// has none, and a run that did not succeed does not count.
func testStateSourceRows(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 300)
	rs := RetailRuleSet(t)
	pr, ok := e.s.(jobs.PopulationReader)
	if !ok {
		t.Fatalf("%T does not implement jobs.PopulationReader", e.s)
	}
	last := func() jobs.PreviousRun {
		t.Helper()
		p, ok, err := pr.LastSucceeded(ctx, rs.Name)
		if err != nil || !ok {
			t.Fatalf("LastSucceeded = %+v, %v, %v; want a run", p, ok, err)
		}
		return p
	}

	out := e.applyAt(rs, day(0), Options())
	var want map[string]int64
	if q := out.Report.Quality; q != nil {
		for _, s := range q.Sources {
			if want == nil {
				want = map[string]int64{}
			}
			want[s.Name] = s.Rows
		}
	}
	if p := last(); p.ID != out.RunID || !maps.Equal(p.SourceRows, want) || (want != nil && want[out.Report.Quality.Sources[0].Name] != 300) {
		t.Fatalf("after an apply of 300 customers: LastSucceeded = %+v; want run %d with source rows %v (300 in the primary)", p, out.RunID, want)
	}

	// Each commit is a run started after the one before (LastSucceeded
	// goes by start time), an hour apart from now on.
	started := time.Now()
	commit := func(rep *jobs.PlanReport, status jobs.Status) int64 {
		t.Helper()
		started = started.Add(time.Hour)
		info := jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: day(1), Started: started}
		id, err := e.s.StartRun(ctx, info, "apply")
		if err != nil {
			t.Fatal(err)
		}
		info.ID = id
		tx, err := e.s.BeginApply(ctx, rs, info)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck
		if err := tx.Commit(ctx, jobs.RunSummary{Status: status, Finished: started, Customers: 1234, Detail: rep}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	merged := &jobs.PlanReport{FormatVersion: jobs.ReportFormatVersion, Mode: "apply", RuleSet: rs.Name, Quality: &jobs.QualityReport{
		Sources: []jobs.SourceQuality{{Name: "primary", Rows: 1234, Customers: 1230}, {Name: "crm", Rows: 56}, {Name: "consent", Rows: 0}}}}
	id := commit(merged, jobs.StatusSucceeded)
	if p, want := last(), map[string]int64{"primary": 1234, "crm": 56, "consent": 0}; p.ID != id || p.Customers != 1234 || !maps.Equal(p.SourceRows, want) {
		t.Fatalf("after a run of three sources: LastSucceeded = %+v; want run %d of 1234 customers with source rows %v", p, id, want)
	}
	commit(&jobs.PlanReport{RuleSet: rs.Name, Quality: &jobs.QualityReport{Sources: []jobs.SourceQuality{{Name: "primary", Rows: 1}}}}, jobs.StatusFailed)
	if p := last(); p.ID != id {
		t.Fatalf("after a failed run: LastSucceeded = %+v; want run %d still", p, id)
	}
	id = commit(&jobs.PlanReport{RuleSet: rs.Name}, jobs.StatusSucceeded)
	if p := last(); p.ID != id || p.SourceRows != nil {
		t.Fatalf("after a run whose report has no quality section: LastSucceeded = %+v; want run %d with no source rows", p, id)
	}
}
