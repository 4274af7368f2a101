package storetest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// retailFacts is the retail generator's snapshot of cfg as a facts
// source. It notes every key it hands out.
type retailFacts struct {
	cfg  gen.Config
	mu   *sync.Mutex
	seen map[string]bool
}

func (f retailFacts) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	g, err := gen.Retail(f.cfg)
	if err != nil {
		return nil, err
	}
	return &retailReader{f: f, g: g, rs: rs}, ctx.Err()
}

type retailReader struct {
	f  retailFacts
	g  *gen.Generator
	rs *rules.RuleSet
}

func (r *retailReader) Count(context.Context) (int64, error) { return r.g.Len(), nil }
func (r *retailReader) Close() error                         { return nil }
func (r *retailReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	var batch []engine.Customer
	for {
		c, ok := r.g.Next()
		if !ok {
			break
		}
		var last any
		if !c.LastOrderAt.IsZero() {
			last = c.LastOrderAt
		}
		named := map[string]any{"spend_12m": c.Spend12m, "spend_prev_12m": c.SpendPrev12m, "orders_12m": c.Orders12m,
			"first_order_at": c.FirstOrderAt, "last_order_at": last, "channel": c.Channel}
		row := make([]any, len(r.rs.Facts.Fields))
		for i, f := range r.rs.Facts.Fields {
			v, err := f.Coerce(named[f.Name])
			if err != nil {
				return err
			}
			row[i] = v
		}
		key := strconv.FormatInt(c.ID, 10)
		r.f.mu.Lock()
		r.f.seen[key] = true
		r.f.mu.Unlock()
		batch = append(batch, engine.Customer{Key: key, Facts: row})
		if len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// retailNights applies the retail example to generated customers once a
// month for months+1 months (as-of the 1st), then runs one apply that
// its guard blocks; some queued actions are then finished or cancelled
// (where the store can). It returns the rule set and every key seen.
func retailNights(t *testing.T, st StateStore, months int) (*rules.RuleSet, []string) {
	t.Helper()
	ctx := context.Background()
	rs := RetailRuleSet(t)
	facts := retailFacts{cfg: gen.Config{Customers: 1500, Seed: 5, AsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		mu: &sync.Mutex{}, seen: map[string]bool{}}
	apply := func(month int, guard jobs.Guard) error {
		f := facts
		f.cfg = facts.cfg.Advance(month)
		at := f.cfg.SnapshotAt()
		o := jobs.Options{AsOf: at, Workers: 2, BatchSize: 200, Guard: guard,
			Now: func() time.Time { return at.Add(2 * time.Hour) }}
		_, err := jobs.Apply(ctx, st, f, rs, o)
		return err
	}
	for m := 0; m <= months; m++ {
		if err := apply(m, jobs.Guard{MaxErrorRate: -1}); err != nil {
			t.Fatalf("apply month %d: %v", m, err)
		}
	}
	if err := apply(months+1, jobs.Guard{MaxErrorRate: -1, MaxMovedShare: 1e-9}); err == nil {
		t.Fatal("the apply with a guard of no moves at all went through")
	}
	queue, err := st.Actions(ctx, kernel.ActionFilter{RuleSet: rs.Name, Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	qs, canCancel := st.(QueueStore)
	os, canFinish := st.(jobs.OutcomeStore)
	for i, q := range queue {
		switch {
		case q.Status != jobs.ActionPending:
		case i%7 == 0 && canCancel:
			if err := qs.CancelAction(ctx, q.ID); err != nil {
				t.Fatal(err)
			}
		case i%5 == 0 && q.Action == "winback_call" && canFinish:
			if err := os.RecordOutcome(ctx, jobs.OutcomeReport{ID: q.ID, Status: jobs.ActionDone, Outcome: "reached", At: q.CreatedAt.Add(48 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return rs, slices.Sorted(maps.Keys(facts.seen))
}

// replayed is what the history says of each succeeded apply, counted
// without the runs' reports: the class sizes before and after it, its
// moves, and the customers who entered churn by the class they left.
type replayed struct {
	run     kernel.Run
	before  map[[2]string]int // segmentation, segment
	after   map[[2]string]int
	moves   map[[3]string]int // segmentation, from, to
	churned map[[2]string]int
	// segments is every customer's segments after the run.
	segments map[string]map[string]string
}

// replay rebuilds every succeeded apply from the history of every key,
// oldest first.
func replay(t *testing.T, st StateStore, rs *rules.RuleSet, keys []string) []replayed {
	t.Helper()
	ctx := context.Background()
	byRun := map[int64][]kernel.HistoryEntry{}
	keyOf := map[int64]string{}
	for _, k := range keys {
		h, err := st.History(ctx, rs.Name, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h {
			byRun[e.RunID] = append(byRun[e.RunID], e)
			keyOf[e.ID] = k
		}
	}
	runs, err := st.Runs(ctx, rs.Name, 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(runs)
	cur := map[string]map[string]string{}
	count := func() map[[2]string]int {
		out := map[[2]string]int{}
		for _, segs := range cur {
			for s, seg := range segs {
				if seg != "" {
					out[[2]string{s, seg}]++
				}
			}
		}
		return out
	}
	var out []replayed
	for _, r := range runs {
		if r.Status != string(jobs.StatusSucceeded) {
			continue
		}
		rp := replayed{run: r, before: count(), moves: map[[3]string]int{}, churned: map[[2]string]int{}}
		entries := byRun[r.ID]
		for _, e := range entries {
			from := ""
			if e.From != nil {
				from = *e.From
			}
			rp.moves[[3]string{e.Segmentation, from, e.To}]++
			if e.Segmentation == rs.Churn.Segmentation && e.To == rs.Churn.Segment && from != rs.Churn.Segment {
				for s, seg := range cur[keyOf[e.ID]] {
					if seg != "" {
						rp.churned[[2]string{s, seg}]++
					}
				}
			}
		}
		for _, e := range entries {
			k := keyOf[e.ID]
			if cur[k] == nil {
				cur[k] = map[string]string{}
			}
			cur[k][e.Segmentation] = e.To
		}
		rp.after = count()
		rp.segments = map[string]map[string]string{}
		for k, segs := range cur {
			rp.segments[k] = maps.Clone(segs)
		}
		out = append(out, rp)
	}
	return out
}

// testReportAgainstHistory: the class report of seven monthly applies of
// the retail example to generated customers says what the history and
// the queue say, counted here without the runs' reports: class sizes
// after each apply, the moves of the latest and of all, churn by class
// per period, and actions by class and status.
func testReportAgainstHistory(t *testing.T, newStore func(t *testing.T) StateBackend) {
	const months = 6
	st := newStore(t).Store
	src := reportSource(t, st)
	rs, keys := retailNights(t, st, months)
	want := replay(t, st, rs, keys)
	if len(want) != months+1 {
		t.Fatalf("%d succeeded applies, want %d", len(want), months+1)
	}
	from := want[0].run.AsOf
	opts := jobs.ClassReportOptions{From: from, Until: from.AddDate(1, 0, 0), Period: 61 * 24 * time.Hour, Effects: true}
	rep, err := jobs.BuildClassReport(context.Background(), src, rs, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkReportRuns(t, rep, months)
	checkReportSizes(t, rep, want)
	checkReportMoves(t, rep, want)
	checkReportChurn(t, rep, want, opts)
	checkReportActions(t, st, rep, want)
	checkReportCoverage(t, rep, want)
	if _, ok := st.(jobs.EffectsSource); ok && (rep.Effects == nil || !rep.Effects.Latest.Equal(want[months].run.AsOf)) {
		t.Errorf("effects: %+v; want a report compared up to the latest apply, %s", rep.Effects, want[months].run.AsOf)
	}
	again, err := jobs.BuildClassReport(context.Background(), src, rs, opts)
	if err != nil || !reflect.DeepEqual(rep, again) {
		t.Errorf("a second report of the same store differs (%v)", err)
	}
}

func checkReportRuns(t *testing.T, rep *jobs.ClassReport, months int) {
	t.Helper()
	if len(rep.Runs) != months+2 {
		t.Fatalf("%d runs, want %d (every apply and the blocked one)", len(rep.Runs), months+2)
	}
	last := rep.Runs[len(rep.Runs)-1]
	if last.Status != jobs.StatusBlocked || len(last.GuardReasons) == 0 || !strings.Contains(last.GuardReasons[0], "change segment") {
		t.Errorf("the last run: %+v; want blocked, saying why", last)
	}
	for _, r := range rep.Runs {
		if r.Seconds != 0 || r.Started.IsZero() || r.Kind != "apply" {
			t.Errorf("run %d: %+v; want an apply that took no time by its clock", r.ID, r)
		}
	}
}

func checkReportSizes(t *testing.T, rep *jobs.ClassReport, want []replayed) {
	t.Helper()
	got := map[int64]map[[2]string]int{}
	for _, p := range rep.Sizes {
		if got[p.RunID] == nil {
			got[p.RunID] = map[[2]string]int{}
		}
		if p.Customers != 0 {
			got[p.RunID][[2]string{p.Segmentation, p.Segment}] = p.Customers
		}
	}
	if len(got) != len(want) {
		t.Errorf("sizes of %d runs, want %d", len(got), len(want))
	}
	for _, w := range want {
		if !maps.Equal(got[w.run.ID], w.after) {
			t.Errorf("sizes after run %d:\n got %v\nwant %v", w.run.ID, got[w.run.ID], w.after)
		}
	}
	if n := len(rep.Sizes); n != len(want)*(4+5+3) {
		t.Errorf("%d size points, want one per segment and apply", n)
	}
}

func checkReportMoves(t *testing.T, rep *jobs.ClassReport, want []replayed) {
	t.Helper()
	got := map[string]map[[3]string]int{}
	for _, m := range rep.Moves {
		if got[m.Scope] == nil {
			got[m.Scope] = map[[3]string]int{}
		}
		got[m.Scope][[3]string{m.Segmentation, m.From, m.To}] += m.Count
		if m.Scope == "latest" && m.RunID != want[len(want)-1].run.ID {
			t.Errorf("a latest move of run %d, want %d", m.RunID, want[len(want)-1].run.ID)
		}
		if d := moveDirection(rep, m); m.Direction != d {
			t.Errorf("move %+v: direction %q, want %q", m, m.Direction, d)
		}
	}
	period := map[[3]string]int{}
	for _, w := range want {
		for k, n := range w.moves {
			period[k] += n
		}
	}
	if !maps.Equal(got["latest"], want[len(want)-1].moves) {
		t.Errorf("latest moves:\n got %v\nwant %v", got["latest"], want[len(want)-1].moves)
	}
	if !maps.Equal(got["period"], period) {
		t.Errorf("period moves:\n got %v\nwant %v", got["period"], period)
	}
	if len(want[len(want)-1].moves) == 0 {
		t.Error("the latest apply moved nobody: the case tests nothing")
	}
}

// direction is a move's direction by the ranks the report lists.
func moveDirection(rep *jobs.ClassReport, m jobs.MoveCell) string {
	rank := map[string]int{}
	for _, s := range rep.Segmentations {
		if s.Name == m.Segmentation {
			for _, seg := range s.Segments {
				rank[seg.Name] = seg.Rank
			}
		}
	}
	switch {
	case m.From == "":
		return "in"
	case m.To == "":
		return "out"
	case rank[m.To] < rank[m.From]:
		return "up"
	}
	return "down"
}

func checkReportChurn(t *testing.T, rep *jobs.ClassReport, want []replayed, opts jobs.ClassReportOptions) {
	t.Helper()
	if rep.Churn == nil {
		t.Fatal("no churn report for a rule set that declares churn")
	}
	type cell struct{ atStart, churned int }
	wantCells := map[string]cell{}
	seenPeriod := map[int]bool{}
	total := 0
	for _, w := range want {
		k := int(w.run.AsOf.Sub(opts.From) / opts.Period)
		for s := range reportClasses(rep) {
			if s[0] == rep.Churn.Segmentation && s[1] == rep.Churn.Segment {
				continue
			}
			key := fmt.Sprintf("%d/%s/%s", k, s[0], s[1])
			c := wantCells[key]
			if !seenPeriod[k] {
				c.atStart = w.before[s]
			}
			c.churned += w.churned[s]
			total += w.churned[s]
			wantCells[key] = c
		}
		seenPeriod[k] = true
	}
	got := map[string]cell{}
	for _, r := range rep.Churn.Rates {
		k := int(r.PeriodStart.Sub(opts.From) / opts.Period)
		got[fmt.Sprintf("%d/%s/%s", k, r.Segmentation, r.Segment)] = cell{r.AtStart, r.Churned}
		if r.AtStart > 0 && r.Rate != float64(r.Churned)/float64(r.AtStart) || r.Uncounted != 0 {
			t.Errorf("rate %+v", r)
		}
	}
	if !maps.Equal(got, wantCells) {
		t.Errorf("churn:\n got %v\nwant %v", got, wantCells)
	}
	if total == 0 {
		t.Error("nobody churned: the case tests nothing")
	}
	if !strings.Contains(rep.Churn.Definition, "lifecycle.churned") {
		t.Errorf("definition %q does not name the churn segment", rep.Churn.Definition)
	}
}

// reportClasses lists the report's classes, segmentation and segment.
func reportClasses(rep *jobs.ClassReport) map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, s := range rep.Segmentations {
		for _, seg := range s.Segments {
			out[[2]string{s.Name, seg.Name}] = true
		}
	}
	return out
}

func checkReportActions(t *testing.T, st StateStore, rep *jobs.ClassReport, want []replayed) {
	t.Helper()
	queue, err := st.Actions(context.Background(), kernel.ActionFilter{RuleSet: rep.RuleSet, Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	after := map[int64]map[string]map[string]string{}
	for _, w := range want {
		after[w.run.ID] = w.segments
	}
	wantCounts := map[[4]string]int64{}
	statuses := map[string]bool{}
	for _, q := range queue {
		if strings.HasPrefix(q.Action, "sync.") {
			continue
		}
		statuses[q.Status] = true
		for _, s := range rep.Segmentations {
			seg := after[q.RunID][q.Customer][s.Name]
			if q.Segments[s.Name] != seg {
				t.Errorf("action %d: the queue keeps %s %q, the history says %q", q.ID, s.Name, q.Segments[s.Name], seg)
			}
			wantCounts[[4]string{q.Action, s.Name, seg, q.Status}]++
		}
	}
	got := map[[4]string]int64{}
	for _, a := range rep.Actions {
		got[[4]string{a.Action, a.Segmentation, a.Segment, a.Status}] += a.Count
	}
	if !maps.Equal(got, wantCounts) {
		t.Errorf("actions:\n got %v\nwant %v", got, wantCounts)
	}
	if len(statuses) < 3 {
		t.Errorf("actions of statuses %v only: the case tests too little", slices.Sorted(maps.Keys(statuses)))
	}
}

func checkReportCoverage(t *testing.T, rep *jobs.ClassReport, want []replayed) {
	t.Helper()
	if len(rep.Coverage) != 2*len(want) {
		t.Fatalf("%d coverage points, want 2 targets after each of %d applies", len(rep.Coverage), len(want))
	}
	for i, c := range rep.Coverage {
		w := want[i/2]
		if c.RunID != w.run.ID || c.Due != w.after[[2]string{c.Segmentation, c.Segment}] {
			t.Errorf("coverage %+v; want run %d with %d due", c, w.run.ID, w.after[[2]string{c.Segmentation, c.Segment}])
		}
	}
}
