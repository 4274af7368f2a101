package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Profiles is a store that keeps effect profiles (jobs.Maintainer) and
// reads them in EffectCounts, with the SQL a test needs to drive it.
type Profiles struct {
	Store jobs.EffectsSource
	DB    *sql.DB
	// Tables are the store's queue and history; Runs its run records.
	Tables EffectsTables
	Runs   string
	// Rows counts the store's profile rows of a rule set.
	Rows func(t *testing.T, ruleset string) int
	// Spoil adds delta to every profile's count of treated decisions: a
	// report that reads them must then be wrong.
	Spoil func(t *testing.T, ruleset string, delta int)
}

// RunEffectProfilesDiff checks that a store's effect profiles count what
// the merge of its decisions and moves says, cell for cell: after
// Maintain, with actions cancelled and retried before and after it, and
// after a run back in time, before and after it. A spoiled profile
// makes the report differ, so the profiles are what it read.
func RunEffectProfilesDiff(t *testing.T, p Profiles) {
	ctx := context.Background()
	rs, err := rules.Compile("diff.yaml", []byte(diffRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := p.Store.(jobs.Maintainer)
	if !ok {
		t.Fatalf("%T keeps no profiles (jobs.Maintainer)", p.Store)
	}
	counts := p.Store.(jobs.ReportSource)
	decs, moves := genEffects(11, 500)
	writeEffects(t, p.DB, p.Tables, rs.Name, decs, moves)
	for d := 0; d <= 200; d++ {
		p.addRun(t, rs.Name, diffDay(d, 0))
	}
	periods := []jobs.EffectsOptions{
		{From: diffDay(0, 0), Until: diffDay(120, 0), Latest: diffDay(200, 0)},
		{From: diffDay(20, 0), Until: diffDay(60, 0), Latest: diffDay(100, 0), MinGroup: 3},
		{From: diffDay(10, 0), Until: diffDay(90, 0), Latest: diffDay(75, 1)},
		{From: diffDay(30, 0), Latest: diffDay(150, 0)},
		{From: diffDay(0, 0), Until: diffDay(120, 0), Latest: diffDay(60, 0), Horizons: []int{7, 30}}, // not kept: counted
	}
	check := func(step string) {
		t.Helper()
		for _, o := range periods {
			got, want := p.effects(t, p.Store, rs, o, false), p.effects(t, mergeOnly{p.Store, counts}, rs, o, true)
			if diff := effectsDiff(got, want); diff != "" {
				t.Errorf("%s, from %s, latest %s: %s", step, o.From.Format(time.DateOnly), o.Latest.Format(time.DateOnly), diff)
			}
		}
	}
	maintain := func() {
		t.Helper()
		if err := m.Maintain(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	check("before any profile")
	maintain()
	if p.Rows(t, rs.Name) == 0 {
		t.Fatal("Maintain kept no profiles")
	}
	check("profiled")
	p.Spoil(t, rs.Name, 1)
	o := periods[0]
	if effectsDiff(p.effects(t, p.Store, rs, o, false), p.effects(t, mergeOnly{p.Store, counts}, rs, o, true)) == "" {
		t.Error("a spoiled profile changed nothing: the report did not read the profiles")
	}
	p.Spoil(t, rs.Name, -1)

	p.exec(t, `UPDATE `+p.Tables.Actions+` SET status = 'cancelled' WHERE ruleset = $1 AND id % 7 = 0 AND status IN ('done', 'held_out', 'pending')`, rs.Name)
	check("cancelled, not yet maintained")
	maintain()
	check("cancelled and maintained")
	p.exec(t, `UPDATE `+p.Tables.Actions+` SET status = 'pending' WHERE ruleset = $1 AND id % 3 = 0 AND status = 'cancelled'`, rs.Name)
	check("retried, not yet maintained")
	maintain()
	check("retried and maintained")

	// A run back in time, after the last one: new decisions and moves on
	// day 100.
	back := diffDay(100, 5)
	p.addRun(t, rs.Name, back)
	var late []diffDecision
	var lateMoves []diffMove
	for i, d := range decs {
		if i%9 == 0 {
			late = append(late, diffDecision{action: d.action, customer: d.customer, status: "done", at: back, segments: d.segments})
			lateMoves = append(lateMoves, diffMove{customer: d.customer, segmentation: "lifecycle", to: "churned", at: back})
		}
	}
	writeLate(t, p.DB, p.Tables, rs.Name, late, lateMoves)
	check("a run back in time, not yet maintained")
	maintain()
	check("a run back in time, maintained")
}

// effects builds the effects report of src.
func (p Profiles) effects(t *testing.T, src jobs.EffectsSource, rs *rules.RuleSet, o jobs.EffectsOptions, merged bool) *jobs.EffectsReport {
	t.Helper()
	rep, err := jobs.Effects(context.Background(), src, rs, o)
	if err != nil {
		t.Fatalf("effects (merged %v): %v", merged, err)
	}
	return rep
}

func (p Profiles) addRun(t *testing.T, ruleset string, asOf time.Time) {
	t.Helper()
	p.exec(t, `INSERT INTO `+p.Runs+` (ruleset, rules_hash, kind, as_of, status, started_at, finished_at)
		VALUES ($1, 'h', 'apply', $2, 'succeeded', $2, $2)`, ruleset, p.Tables.Time(asOf))
}

func (p Profiles) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := p.DB.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

// writeLate writes rows after the generated ones, with their own
// idempotency keys.
func writeLate(t *testing.T, db *sql.DB, tables EffectsTables, ruleset string, decs []diffDecision, moves []diffMove) {
	t.Helper()
	insertDiffRows(t, db, tables, ruleset, decs, moves, 2, "late")
}

// effectsDiff describes the first cells where got and want differ, ""
// when none do.
func effectsDiff(got, want *jobs.EffectsReport) string {
	type key struct {
		action, seg, segment string
		horizon              int
	}
	cells := map[key][2]*jobs.TreatmentEffect{}
	for i := range want.Effects {
		e := &want.Effects[i]
		k := key{e.Action, e.Segmentation, e.Segment, e.Horizon}
		cells[k] = [2]*jobs.TreatmentEffect{nil, e}
	}
	for i := range got.Effects {
		e := &got.Effects[i]
		k := key{e.Action, e.Segmentation, e.Segment, e.Horizon}
		cells[k] = [2]*jobs.TreatmentEffect{e, cells[k][1]}
	}
	diff, n := "", 0
	for k, c := range cells {
		if !reflect.DeepEqual(c[0], c[1]) {
			if n < 3 {
				diff += fmt.Sprintf("\n\t%v: counted %+v\n\t\tmerged %+v", k, c[0], c[1])
			}
			n++
		}
	}
	if n == 0 && !reflect.DeepEqual(got.Costs, want.Costs) {
		return fmt.Sprintf("costs: counted %+v, merged %+v", got.Costs, want.Costs)
	}
	if n > 0 {
		return fmt.Sprintf("%d cells differ:%s", n, diff)
	}
	return ""
}
