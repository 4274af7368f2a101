package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// diffRules has two actions with a holdout (one with a cost), one with
// a cost only, two segmentations and churn.
const diffRules = `
ruleset: diff
facts: {days: integer}
segmentations:
  - name: lifecycle
    segments:
      - {name: churned, when: days > 60}
      - {name: at_risk, when: days > 30}
      - {name: new, when: days < 0}
      - {name: active, fallback: true}
  - name: tier
    segments:
      - {name: vip, when: days < -10}
      - {name: key, when: days < -5}
      - {name: regular, fallback: true}
churn: lifecycle.churned
actions:
  - name: winback_call
    when: entered("lifecycle", "at_risk")
    holdout: 20%
    cost: 5
  - name: welcome_mail
    when: entered("lifecycle", "new")
    holdout: 50%
  - name: vip_visit
    when: entered("tier", "vip")
    cost: 100
`

// EffectsTables is where WriteEffects writes: a store's action queue
// and history, and how its driver binds a time.
type EffectsTables struct {
	Actions, History string
	Time             func(time.Time) any
}

// diffStart is day 0 of the generated data.
var diffStart = time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC)

// diffDay is day d, plus micro microseconds.
func diffDay(d, micro int) time.Time {
	return diffStart.AddDate(0, 0, d).Add(time.Duration(micro) * time.Microsecond)
}

// diffDecision and diffMove are generated rows.
type diffDecision struct {
	action, customer, status string
	at                       time.Time
	segments                 *string // nil: NULL
}

type diffMove struct {
	customer, segmentation, to string
	at                         time.Time
}

// genEffects makes the decisions and moves of n customers over 150 days:
// repeat decisions of one action (some on the same day, some exactly a
// horizon apart), every status, segments missing, unknown or NULL, and
// moves before, on, after and exactly at the end of each horizon, some
// two at one time, in unknown segmentations and segments too.
func genEffects(seed uint64, n int) ([]diffDecision, []diffMove) {
	rng := rand.New(rand.NewPCG(seed, 14))
	actions := []string{"winback_call", "welcome_mail", "vip_visit", "unknown_action"}
	statuses := []string{"pending", "claimed", "done", "failed", "dead", jobs.ActionHeldOut, jobs.ActionHeldOut,
		jobs.ActionSuppressed, jobs.ActionCancelled}
	life := []string{"churned", "at_risk", "new", "active", "gone"}
	tiers := []string{"vip", "key", "regular"}
	var decs []diffDecision
	var moves []diffMove
	for c := range n {
		key := fmt.Sprintf("c%04d", c)
		if c%17 == 0 {
			key = fmt.Sprintf("Ä%d", c) // beyond ASCII
		}
		var days []int
		for range rng.IntN(5) {
			a := actions[rng.IntN(len(actions))]
			d := rng.IntN(120)
			if len(days) > 0 && rng.IntN(3) == 0 {
				d = days[rng.IntN(len(days))] + []int{0, 30, 60, 7}[rng.IntN(4)] // a repeat, a tie or on a horizon
			}
			days = append(days, d)
			segs := map[string]string{"lifecycle": life[rng.IntN(len(life))], "tier": tiers[rng.IntN(len(tiers))]}
			if rng.IntN(6) == 0 {
				delete(segs, "tier")
			}
			b, _ := json.Marshal(segs)
			s := string(b)
			dec := diffDecision{action: a, customer: key, status: statuses[rng.IntN(len(statuses))], at: diffDay(d, 0), segments: &s}
			if rng.IntN(10) == 0 {
				dec.segments = nil
			}
			decs = append(decs, dec)
		}
		for range rng.IntN(7) {
			seg, to := "lifecycle", life[rng.IntN(len(life))]
			switch rng.IntN(5) {
			case 0, 1:
				seg, to = "tier", tiers[rng.IntN(len(tiers))]
			case 2:
				if rng.IntN(4) == 0 {
					seg = "retired"
				}
			}
			d := rng.IntN(180) - 10
			if len(days) > 0 && rng.IntN(2) == 0 {
				d = days[rng.IntN(len(days))] + []int{0, 1, 7, 29, 30, 31, 59, 60, 90, 91}[rng.IntN(10)]
			}
			m := diffMove{customer: key, segmentation: seg, to: to, at: diffDay(d, 0)}
			moves = append(moves, m)
			if rng.IntN(8) == 0 { // a second move at the same time
				m.to = life[rng.IntN(len(life))]
				moves = append(moves, m)
			}
		}
	}
	// Out of time order, so that ids do not follow it.
	rng.Shuffle(len(decs), func(i, j int) { decs[i], decs[j] = decs[j], decs[i] })
	rng.Shuffle(len(moves), func(i, j int) { moves[i], moves[j] = moves[j], moves[i] })
	return decs, moves
}

// writeEffects writes the generated rows with plain SQL.
func writeEffects(t *testing.T, db *sql.DB, tables EffectsTables, ruleset string, decs []diffDecision, moves []diffMove) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	insertDiffRows(t, tx, tables, ruleset, decs, moves, 1, "diff")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// insertDiffRows writes decs to the queue and moves to history through
// db, as run run, with idempotency keys prefix/0, prefix/1, ...
func insertDiffRows(t *testing.T, db interface {
	Exec(query string, args ...any) (sql.Result, error)
}, tables EffectsTables, ruleset string, decs []diffDecision, moves []diffMove, run int64, prefix string) {
	t.Helper()
	for i, d := range decs {
		var segs any
		if d.segments != nil {
			segs = *d.segments
		}
		if _, err := db.Exec(`INSERT INTO `+tables.Actions+` (ruleset, action, customer_key, status, created_at, due_at,
				idempotency_key, run_id, segments) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)`,
			ruleset, d.action, d.customer, d.status, tables.Time(d.at), fmt.Sprintf("%s/%d", prefix, i), run, segs); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range moves {
		if _, err := db.Exec(`INSERT INTO `+tables.History+` (ruleset, segmentation, customer_key, from_segment, to_segment,
				matched, reason, as_of, run_id) VALUES ($1, $2, $3, NULL, $4, $4, 'matched', $5, $6)`,
			ruleset, m.segmentation, m.customer, m.to, tables.Time(m.at), run); err != nil {
			t.Fatal(err)
		}
	}
}

// mergeOnly is a store seen without its EffectCounter: Effects then
// merges the streams in Go, as it did before stores counted.
type mergeOnly struct {
	jobs.EffectsSource
	jobs.ReportSource
}

// RunEffectCountsDiff checks a store's EffectCounts against the merge of
// its streams: it writes generated decisions and moves of many customers
// to the tables (db, tables) that store src reads, then builds the
// effects report for several periods, latest runs and horizons both
// ways, and compares every comparison and cost.
func RunEffectCountsDiff(t *testing.T, src jobs.EffectsSource, db *sql.DB, tables EffectsTables) {
	rs, err := rules.Compile("diff.yaml", []byte(diffRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(jobs.EffectCounter); !ok {
		t.Fatalf("%T does not count effects (jobs.EffectCounter)", src)
	}
	counts, ok := src.(jobs.ReportSource)
	if !ok {
		t.Fatalf("%T gives no queue counts (jobs.ReportSource)", src)
	}
	decs, moves := genEffects(7, 600)
	writeEffects(t, db, tables, rs.Name, decs, moves)
	for _, o := range []jobs.EffectsOptions{
		{From: diffDay(0, 0), Until: diffDay(120, 0), Latest: diffDay(200, 0)},
		{From: diffDay(20, 0), Until: diffDay(60, 0), Latest: diffDay(100, 0), MinGroup: 3},
		{From: diffDay(10, 0), Until: diffDay(90, 0), Latest: diffDay(75, 0), Horizons: []int{7, 30, 45}},
		{From: diffDay(0, 0), Until: diffDay(120, 0), Latest: diffDay(60, 1), Horizons: []int{1, 29, 30, 31}},
		{From: diffDay(30, 0), Latest: diffDay(150, 0)},
		{From: diffDay(0, 0), Until: diffDay(120, 0)},
	} {
		t.Run(fmt.Sprintf("from=%s/until=%s/latest=%s/horizons=%v", o.From.Format(time.DateOnly), o.Until.Format(time.DateOnly),
			o.Latest.Format(time.DateOnly), o.Horizons), func(t *testing.T) {
			got, err := jobs.Effects(context.Background(), src, rs, o)
			if err != nil {
				t.Fatal(err)
			}
			want, err := jobs.Effects(context.Background(), mergeOnly{src, counts}, rs, o)
			if err != nil {
				t.Fatal(err)
			}
			if o.Latest.After(o.From.AddDate(0, 0, 60)) && len(want.Effects) == 0 {
				t.Fatal("the merge compared nothing: the generated data misses the case")
			}
			compareEffects(t, got, want)
		})
	}
}

// compareEffects reports every cell where got and want differ.
func compareEffects(t *testing.T, got, want *jobs.EffectsReport) {
	t.Helper()
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
	for k, c := range cells {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%v: counted %+v\n\tmerged %+v", k, c[0], c[1])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the reports differ beyond their cells:\ncounted %+v\nmerged  %+v", got, want)
	}
}
