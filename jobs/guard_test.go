package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

const tinyRules = `
ruleset: tiny
facts:
  spend: number?
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: thank
    when: entered("tier", "big")
`

// tinyPlan evaluates n customers: moved of them move from small to big
// (and are thanked), failed have a null spend, the rest stay small.
func tinyPlan(t *testing.T, n, moved, failed int) *engine.Plan {
	t.Helper()
	rs, err := rules.Compile("tiny.yaml", []byte(tinyRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(rs)
	p := engine.NewPlan(rs)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	small := engine.State{Segments: []engine.Assignment{{Segment: "small", Since: asOf.AddDate(-1, 0, 0)}}}
	for i := range n {
		var spend any = 10.0
		switch {
		case i < moved:
			spend = 500.0
		case i < moved+failed:
			spend = nil
		}
		c := &engine.Customer{Key: string(rune('a' + i%26)), Facts: []any{spend}, State: small}
		p.Add(c.Key, e.Evaluate(asOf, c))
	}
	return p
}

func TestGuardCheck(t *testing.T) {
	tests := []struct {
		name                 string
		guard                Guard
		n, moved, failed     int
		initial              bool
		prev                 *PreviousRun
		wantBlocked, wantErr bool
		wantReason           string
	}{
		{name: "within limits", guard: DefaultGuard, n: 100, moved: 20},
		{name: "moved share over the limit", guard: DefaultGuard, n: 100, moved: 21, wantBlocked: true,
			wantReason: "21 of 100 customers (21.0%) would change segment, more than the limit of 20.0%"},
		{name: "initial run ignores max_moved", guard: DefaultGuard, n: 100, moved: 100, initial: true},
		{name: "allow large", guard: Guard{MaxMovedShare: 0.2, MaxActions: 1, AllowLarge: true}, n: 100, moved: 90},
		{name: "no moved limit", guard: Guard{}, n: 100, moved: 90},
		{name: "max actions", guard: Guard{MaxActions: 5}, n: 100, moved: 6, wantBlocked: true,
			wantReason: "6 actions would be queued, more than the limit of 5"},
		{name: "max actions applies to an initial run", guard: Guard{MaxActions: 5}, n: 100, moved: 6, initial: true, wantBlocked: true},
		{name: "errors within the rate", guard: DefaultGuard, n: 200, failed: 2},
		{name: "errors over the rate", guard: DefaultGuard, n: 200, failed: 3, wantBlocked: true, wantErr: true,
			wantReason: "3 of 200 customers (1.50%) failed a rule, more than the limit of 1.00%"},
		{name: "allow large does not lift the error rate", guard: Guard{MaxErrorRate: 0.01, AllowLarge: true}, n: 200, failed: 3,
			wantBlocked: true, wantErr: true},
		{name: "zero error rate: any error aborts", guard: Guard{}, n: 200, failed: 1, wantBlocked: true, wantErr: true},
		{name: "negative error rate: no limit", guard: Guard{MaxErrorRate: -1}, n: 200, failed: 150},

		// max_shrink, against the last successful run.
		{name: "an emptied source is refused", guard: DefaultGuard, n: 0, prev: &PreviousRun{ID: 12, Customers: 44220}, wantBlocked: true,
			wantReason: "the facts source returned 0 customers; the last successful run (run 12) evaluated 44,220: check the source (an emptied or failed load?), then rerun with --allow-large-change if intended"},
		{name: "an emptied source is refused without a shrink limit", guard: Guard{}, n: 0, prev: &PreviousRun{ID: 3, Customers: 1}, wantBlocked: true,
			wantReason: "the facts source returned 0 customers; the last successful run (run 3) evaluated 1:"},
		{name: "a halved source is refused", guard: DefaultGuard, n: 22110, prev: &PreviousRun{ID: 12, Customers: 44220}, wantBlocked: true,
			wantReason: "the facts source returned 22,110 customers, 50.0% fewer than the 44,220 of the last successful run (run 12), more than the limit of 25.0%: check the source (a partial load?), then rerun with --allow-large-change if intended"},
		{name: "a drop just over the limit is refused", guard: DefaultGuard, n: 74, prev: &PreviousRun{ID: 2, Customers: 100}, wantBlocked: true,
			wantReason: "the facts source returned 74 customers, 26.0% fewer than the 100 of the last successful run (run 2), more than the limit of 25.0%"},
		{name: "a drop at the limit passes", guard: DefaultGuard, n: 75, prev: &PreviousRun{ID: 2, Customers: 100}},
		{name: "a 10% drop passes", guard: DefaultGuard, n: 90, prev: &PreviousRun{ID: 2, Customers: 100}},
		{name: "growth passes", guard: DefaultGuard, n: 200, prev: &PreviousRun{ID: 2, Customers: 100}},
		{name: "no shrink limit", guard: Guard{}, n: 1, prev: &PreviousRun{ID: 2, Customers: 100}},
		{name: "allow large lifts the shrink limit", guard: Guard{MaxShrinkShare: 0.25, AllowLarge: true}, n: 10, prev: &PreviousRun{ID: 2, Customers: 100}},
		{name: "allow large lifts the refusal of an empty source", guard: Guard{MaxShrinkShare: 0.25, AllowLarge: true}, n: 0, prev: &PreviousRun{ID: 2, Customers: 100}},
		{name: "a first run is not limited", guard: DefaultGuard, n: 0, initial: true},
		{name: "a last success with no customers does not limit", guard: DefaultGuard, n: 0, prev: &PreviousRun{ID: 2}},
		{name: "shrink applies to a run with initial state", guard: DefaultGuard, n: 10, initial: true, prev: &PreviousRun{ID: 2, Customers: 100}, wantBlocked: true,
			wantReason: "90.0% fewer than the 100 of the last successful run (run 2)"},
		{name: "shrink and the error rate: the error rate comes last", guard: DefaultGuard, n: 50, failed: 10, prev: &PreviousRun{ID: 2, Customers: 100},
			wantBlocked: true, wantErr: true, wantReason: "50.0% fewer than the 100 of the last successful run (run 2), more than the limit of 25.0%: check the source (a partial load?), then rerun with --allow-large-change if intended; 10 of 50 customers (20.00%) failed a rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.guard.check(tinyPlan(t, tt.n, tt.moved, tt.failed), tt.initial, tt.prev, nil)
			if r.Blocked != tt.wantBlocked || r.ErrorRateExceeded != tt.wantErr {
				t.Fatalf("check: %+v, want blocked=%v error_rate_exceeded=%v", r, tt.wantBlocked, tt.wantErr)
			}
			if tt.wantBlocked && len(r.Reasons) == 0 {
				t.Fatal("blocked without a reason")
			}
			if tt.wantReason != "" && !strings.Contains(joinReasons(r.Reasons), tt.wantReason) {
				t.Fatalf("reasons %q, want %q", r.Reasons, tt.wantReason)
			}
			if r.PreviousRun != tt.prev {
				t.Fatalf("report's previous run %+v, want %+v", r.PreviousRun, tt.prev)
			}
		})
	}
}

// The report's JSON has the keys docs/plan-json.md documents, with empty
// lists rather than null, and the figures of the plan.
func TestPlanReportJSON(t *testing.T) {
	p := tinyPlan(t, 10, 3, 1)
	rep := NewPlanReport(p, "plan", time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), false)
	if !rep.HasChanges() || rep.Changed != 3 || rep.ActionsTotal != 3 || rep.Errors.Customers != 1 || len(rep.Errors.Examples) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	ex := rep.Errors.Examples[0]
	if ex.Customer != "d" || ex.Rule != "segmentations.tier.segments.big.when" || ex.Message == "" {
		t.Fatalf("error example %+v", ex)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"format_version", "mode", "ruleset", "rules_hash", "as_of", "initial", "customers",
		"changed", "actions_total", "segmentations", "actions", "errors", "samples", "guard"} {
		if _, ok := m[key]; !ok {
			t.Errorf("report JSON lacks %q: %s", key, b)
		}
	}
	if string(m["format_version"]) != "1" || string(m["as_of"]) != `"2024-07-01T00:00:00Z"` {
		t.Errorf("format_version %s, as_of %s", m["format_version"], m["as_of"])
	}

	empty := NewPlanReport(tinyPlan(t, 0, 0, 0), "plan", time.Time{}, true)
	b, _ = json.Marshal(empty)
	for _, null := range []string{`"samples":null`, `"examples":null`, `"moves":null`, `"by_rule":null`} {
		if strings.Contains(string(b), null) {
			t.Errorf("empty report has %s: %s", null, b)
		}
	}
	if empty.HasChanges() {
		t.Error("an empty plan has changes")
	}
}

// The guard's report names the last successful run it compared with, as
// previous_run (docs/plan-json.md), and leaves the key out when there is
// none.
func TestGuardReportPreviousRunJSON(t *testing.T) {
	r := DefaultGuard.check(tinyPlan(t, 0, 0, 0), false, &PreviousRun{ID: 12, Customers: 44220}, nil)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"blocked":true`) || !strings.Contains(string(b), `"previous_run":{"id":12,"customers":44220}`) {
		t.Errorf("guard report JSON %s, want it blocked with previous_run", b)
	}
	b, _ = json.Marshal(DefaultGuard.check(tinyPlan(t, 0, 0, 0), true, nil, nil))
	if strings.Contains(string(b), "previous_run") || strings.Contains(string(b), `"blocked":true`) {
		t.Errorf("first run's guard report JSON %s, want it not blocked, without previous_run", b)
	}
}

// populationStore is a store with no state that reports a last
// successful run, or fails to.
type populationStore struct {
	NoState
	last  PreviousRun
	ok    bool
	err   error
	asked []string
}

func (s *populationStore) LastSucceeded(_ context.Context, ruleset string) (PreviousRun, bool, error) {
	s.asked = append(s.asked, ruleset)
	return s.last, s.ok, s.err
}

// sliceFacts is a facts source of n customers with a spend of 10.
type sliceFacts int

func (n sliceFacts) OpenFacts(context.Context, *rules.RuleSet) (FactsReader, error) { return n, nil }
func (n sliceFacts) Count(context.Context) (int64, error)                           { return int64(n), nil }
func (n sliceFacts) Close() error                                                   { return nil }
func (n sliceFacts) Stream(_ context.Context, _ int, fn func([]engine.Customer) error) error {
	batch := make([]engine.Customer, n)
	for i := range batch {
		batch[i] = engine.Customer{Key: string(rune('a' + i%26)), Facts: []any{10.0}}
	}
	return fn(batch)
}

// Plan reads the last successful run from a store that keeps runs and
// shows the guard's verdict on the customer count: an emptied source is
// refused in the report, with the figures, and a store that cannot say
// fails the plan.
func TestPlanComparesWithLastSuccess(t *testing.T) {
	rs, err := rules.Compile("tiny.yaml", []byte(tinyRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := Options{AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Guard: DefaultGuard}
	tests := []struct {
		name        string
		store       *populationStore
		facts       sliceFacts
		wantBlocked bool
		wantReason  string
	}{
		{name: "emptied", store: &populationStore{last: PreviousRun{ID: 12, Customers: 44220}, ok: true}, facts: 0, wantBlocked: true,
			wantReason: "the facts source returned 0 customers; the last successful run (run 12) evaluated 44,220"},
		{name: "shrunk", store: &populationStore{last: PreviousRun{ID: 4, Customers: 40}, ok: true}, facts: 20, wantBlocked: true,
			wantReason: "the facts source returned 20 customers, 50.0% fewer than the 40 of the last successful run (run 4)"},
		{name: "a tenth fewer", store: &populationStore{last: PreviousRun{ID: 4, Customers: 20}, ok: true}, facts: 18},
		{name: "no successful run yet", store: &populationStore{}, facts: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Plan(ctx, tt.store, tt.facts, rs, opts)
			if err != nil {
				t.Fatal(err)
			}
			g := out.Report.Guard
			if g.Blocked != tt.wantBlocked || !strings.Contains(joinReasons(g.Reasons), tt.wantReason) {
				t.Fatalf("plan's guard %+v, want blocked=%v with %q", g, tt.wantBlocked, tt.wantReason)
			}
			if len(tt.store.asked) != 1 || tt.store.asked[0] != "tiny" {
				t.Fatalf("the plan asked for the last successful run of %q, want tiny once", tt.store.asked)
			}
			if tt.store.ok && (g.PreviousRun == nil || !samePrevRun(*g.PreviousRun, tt.store.last)) {
				t.Fatalf("report's previous run %+v, want %+v", g.PreviousRun, tt.store.last)
			}
		})
	}

	broken := &populationStore{err: errors.New("connection reset")}
	if _, err := Plan(ctx, broken, sliceFacts(3), rs, opts); err == nil ||
		err.Error() != "read the last successful run of tiny: connection reset" {
		t.Fatalf("plan on a store that cannot read its runs: %v", err)
	}
	// A store that keeps no runs (a preview of a facts file) is not limited.
	if out, err := Plan(ctx, NoState{}, sliceFacts(0), rs, opts); err != nil || out.Report.Guard.Blocked || out.Report.Guard.PreviousRun != nil {
		t.Fatalf("plan on a store without runs: %+v, %v", out, err)
	}
}

func samePrevRun(a, b PreviousRun) bool { return a.ID == b.ID && a.Customers == b.Customers }
