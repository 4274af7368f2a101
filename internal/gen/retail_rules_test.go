package gen_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/rules"
)

var asOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

func loadRuleSet(t testing.TB, path string) *rules.RuleSet {
	t.Helper()
	loaded := rules.LoadFiles([]string{path}, rules.Options{})
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	return loaded.RuleSets[0]
}

// snapshot is what one run of a rule set over a generated population
// did: customers per segment, moves and actions.
type snapshot struct {
	asOf      time.Time
	customers int
	segments  map[string]map[string]int // segmentation -> segment -> customers
	moves     map[string]int            // segmentation -> customers who moved
	actions   map[string]int
	moved     int // customers who changed segment anywhere (new customers too), as a plan counts them
	errors    int
}

func (s *snapshot) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d customers, %.1f%% moved", s.asOf.Format(time.DateOnly), s.customers, 100*float64(s.moved)/float64(s.customers))
	for _, name := range sortedKeys(s.segments) {
		fmt.Fprintf(&b, "\n  %-14s", name)
		for _, seg := range sortedKeys(s.segments[name]) {
			fmt.Fprintf(&b, " %s %.1f%%", seg, 100*float64(s.segments[name][seg])/float64(s.customers))
		}
		fmt.Fprintf(&b, " (moved %d)", s.moves[name])
	}
	fmt.Fprintf(&b, "\n  actions %v, errors %d", s.actions, s.errors)
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runSnapshots evaluates rs over cfg's population at AsOf and each of the
// following months, carrying every customer's state (segments, when
// actions last fired) from one run to the next, as tierflow apply does.
func runSnapshots(t testing.TB, rs *rules.RuleSet, src func(gen.Config) gen.Rows, cfg gen.Config, months int) []*snapshot {
	t.Helper()
	eng := engine.New(rs)
	var states []engine.State
	var out []*snapshot
	var res engine.Result
	for m := 0; m <= months; m++ {
		c := cfg.Advance(m)
		rows := src(c)
		cols := rows.Columns()
		row := make([]gen.Value, len(cols))
		snap := &snapshot{asOf: c.SnapshotAt(), segments: map[string]map[string]int{}, moves: map[string]int{}, actions: map[string]int{}}
		for _, s := range rs.Segmentations {
			snap.segments[s.Name] = map[string]int{}
		}
		for i := 0; ; i++ {
			if !rows.NextRow(row) {
				break
			}
			facts := map[string]any{}
			for j, col := range cols[1:] {
				if _, _, known := rs.Facts.Lookup(col.Name); known {
					facts[col.Name] = row[j+1].Any(col.Kind)
				}
			}
			key := fmt.Sprint(row[0].Int)
			values, err := rs.Facts.Row(facts)
			if err != nil {
				t.Fatalf("customer %s: %v", key, err)
			}
			if i == len(states) {
				states = append(states, engine.State{
					Segments:    make([]engine.Assignment, len(rs.Segmentations)),
					LastActions: make([]time.Time, len(rs.Actions)),
				})
			}
			st := &states[i]
			eng.EvaluateInto(c.SnapshotAt(), &engine.Customer{Key: key, Facts: values, State: *st}, &res)
			snap.customers++
			snap.errors += len(res.Errors)
			moved := false
			for si, d := range res.Segments {
				name := rs.Segmentations[si].Name
				snap.segments[name][d.Segment]++
				if d.Changed() {
					moved = true
					if d.Previous != "" {
						snap.moves[name]++
					}
				}
				st.Segments[si] = d.Assignment
			}
			if moved {
				snap.moved++
			}
			for _, a := range res.Actions {
				snap.actions[a.Name]++
				_, ai := rs.Action(a.Name)
				st.LastActions[ai] = c.SnapshotAt()
			}
		}
		out = append(out, snap)
	}
	return out
}

func retailRows(c gen.Config) gen.Rows {
	g, err := gen.Retail(c)
	if err != nil {
		panic(err)
	}
	return g
}

// share is a segment's share of a snapshot's customers.
func (s *snapshot) share(segmentation, segment string) float64 {
	return float64(s.segments[segmentation][segment]) / float64(s.customers)
}

// The retail example has customers to move everywhere: evaluated over
// generated customers, every segment of every segmentation holds
// customers, in about the shares docs/demo-data.md gives, and month by
// month, with each run's state carried to the next, customers move and
// every action fires.
func TestRetailRulesEverySegmentAndAction(t *testing.T) {
	t.Parallel()
	rs := loadRuleSet(t, "../../examples/retail/retail.yaml")
	const months = 6
	snaps := runSnapshots(t, rs, retailRows, gen.Config{Customers: 20000, Seed: 1, AsOf: asOf}, months)
	for _, s := range snaps {
		t.Log(s)
	}
	first := snaps[0]
	for _, seg := range rs.Segmentations {
		for _, sg := range seg.Segments {
			if sg.Name == "won_back" {
				continue // needs a previous run, in which the customer was churned
			}
			if first.segments[seg.Name][sg.Name] == 0 {
				t.Errorf("first run: no customer in %s/%s", seg.Name, sg.Name)
			}
		}
	}
	for _, tc := range []struct {
		segmentation, segment string
		min, max              float64
	}{
		{"value_tier", "vip", 0.002, 0.02},
		{"value_tier", "key", 0.03, 0.10},
		{"value_tier", "regular", 0.25, 0.50},
		{"lifecycle", "churned", 0.10, 0.20},
		{"lifecycle", "at_risk", 0.08, 0.12},
		{"lifecycle", "new", 0.04, 0.10},
		{"source", "online", 0.50, 0.60},
	} {
		if got := first.share(tc.segmentation, tc.segment); got < tc.min || got > tc.max {
			t.Errorf("first run: %s/%s holds %.1f%% of customers, want %.1f%% to %.1f%%",
				tc.segmentation, tc.segment, got*100, tc.min*100, tc.max*100)
		}
	}
	fired := map[string]int{}
	wonBack := 0
	for _, s := range snaps[1:] {
		if s.moves["value_tier"] == 0 || s.moves["lifecycle"] == 0 {
			t.Errorf("%s: moves %v", s.asOf.Format(time.DateOnly), s.moves)
		}
		if share := float64(s.moved) / float64(s.customers); share > 0.2 {
			t.Errorf("%s: %.1f%% of customers changed segment, above the default guard's 20%%", s.asOf.Format(time.DateOnly), share*100)
		}
		for name, n := range s.actions {
			fired[name] += n
		}
		wonBack += s.segments["lifecycle"]["won_back"]
	}
	for _, a := range rs.Actions {
		if fired[a.Name] == 0 {
			t.Errorf("in %d monthly runs, %s never fired", months, a.Name)
		}
	}
	if wonBack == 0 {
		t.Errorf("in %d monthly runs, no churned customer was won back", months)
	}
	for _, s := range snaps {
		if s.errors > 0 {
			t.Errorf("%s: %d rule errors", s.asOf.Format(time.DateOnly), s.errors)
		}
	}
}
