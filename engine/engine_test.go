package engine_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

const day = 24 * time.Hour

var asOf = date("2024-07-01")

func TestFirstMatchAndFallback(t *testing.T) {
	rs := compile(t, `
ruleset: order
facts:
  spend: number
  orders: integer
segmentations:
  - name: tier
    segments:
      - name: both
        when: spend >= 100 && orders >= 5
      - name: spender
        when: spend >= 100
      - name: frequent
        when: orders >= 5
      - name: rest
        fallback: true
`)
	e := engine.New(rs)
	tests := []struct {
		name   string
		facts  map[string]any
		want   string
		reason engine.Reason
	}{
		{"all three conditions hold: the first wins", map[string]any{"spend": 500, "orders": 9}, "both", engine.ReasonMatched},
		{"second and later hold: the second wins", map[string]any{"spend": 100, "orders": 1}, "spender", engine.ReasonMatched},
		{"only the third holds", map[string]any{"spend": 99.99, "orders": 5}, "frequent", engine.ReasonMatched},
		{"none hold: fallback", map[string]any{"spend": 0, "orders": 0}, "rest", engine.ReasonFallback},
		{"missing facts are zero: fallback", nil, "rest", engine.ReasonFallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.Evaluate(asOf, customer(t, rs, "c1", in{facts: tt.facts}))
			want := engine.Decision{
				Assignment: engine.Assignment{Segment: tt.want, Since: asOf},
				Reason:     tt.reason,
				Matched:    tt.want,
			}
			if got := decision(t, rs, res, "tier"); got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
			if len(res.Errors) > 0 {
				t.Errorf("errors: %v", res.Errors)
			}
		})
	}
}

// A segmentation that reads segment.X of one defined after it in the
// file is evaluated after X, and sees X's new segment, rank and days.
func TestDependencyOrder(t *testing.T) {
	rs := compile(t, `
ruleset: grid
facts:
  spend: number
  channel: string
segmentations:
  - name: grid
    segments:
      - name: vip_online
        when: segment.tier == "vip" && channel == "online"
      - name: vip_fresh
        when: rank("tier") == 1 && days_in("tier") == 0
      - name: vip_other
        when: segment.tier == "vip"
      - name: rest
        fallback: true
  - name: tier
    segments:
      - name: vip
        when: spend >= 1000
      - name: std
        fallback: true
`)
	if want := []int{1, 0}; !slices.Equal(rs.EvalOrder, want) {
		t.Fatalf("EvalOrder = %v, want %v", rs.EvalOrder, want)
	}
	e := engine.New(rs)
	tests := []struct {
		name     string
		c        in
		wantTier string
		wantGrid string
	}{
		{
			name:     "tier rises to vip in this run; grid sees vip",
			c:        in{facts: map[string]any{"spend": 2000, "channel": "online"}, prev: map[string]engine.Assignment{"tier": {Segment: "std", Since: date("2023-01-01")}}},
			wantTier: "vip", wantGrid: "vip_online",
		},
		{
			name:     "new vip through another channel: days_in is 0",
			c:        in{facts: map[string]any{"spend": 2000, "channel": "store"}, prev: map[string]engine.Assignment{"tier": {Segment: "std", Since: date("2023-01-01")}}},
			wantTier: "vip", wantGrid: "vip_fresh",
		},
		{
			name:     "long-standing vip through another channel",
			c:        in{facts: map[string]any{"spend": 2000, "channel": "store"}, prev: map[string]engine.Assignment{"tier": {Segment: "vip", Since: date("2023-01-01")}}},
			wantTier: "vip", wantGrid: "vip_other",
		},
		{
			name:     "tier falls from vip in this run; grid sees std",
			c:        in{facts: map[string]any{"spend": 10, "channel": "online"}, prev: map[string]engine.Assignment{"tier": {Segment: "vip", Since: date("2023-01-01")}}},
			wantTier: "std", wantGrid: "rest",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.Evaluate(asOf, customer(t, rs, "c1", tt.c))
			got := segments(rs, res)
			want := map[string]string{"tier": tt.wantTier, "grid": tt.wantGrid}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

const stickyRules = `
ruleset: sticky
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: gold
        when: spend >= 1000
        downgrade_grace: 30d
      - name: silver
        when: spend >= 100
        downgrade_grace: 30d
      - name: steel
        when: spend >= 50
        min_stay: 10d
      - name: bronze
        fallback: true
`

func TestStickiness(t *testing.T) {
	rs := compile(t, stickyRules)
	e := engine.New(rs)
	ago := func(days int) time.Time { return asOf.Add(-time.Duration(days) * day) }
	long := date("2023-01-01")
	tests := []struct {
		name  string
		spend float64
		prev  engine.Assignment
		want  engine.Decision // Previous is filled in from prev
	}{
		// Since and plain moves.
		{
			name: "no previous segment: matched, since as-of", spend: 2000,
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: asOf}, Reason: engine.ReasonMatched, Matched: "gold"},
		},
		{
			name: "unchanged segment keeps its since", spend: 2000, prev: engine.Assignment{Segment: "gold", Since: long},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: long}, Reason: engine.ReasonMatched, Matched: "gold"},
		},
		{
			name: "unchanged fallback keeps its since", spend: 0, prev: engine.Assignment{Segment: "bronze", Since: long},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "bronze", Since: long}, Reason: engine.ReasonFallback, Matched: "bronze"},
		},
		{
			name: "a move sets since to as-of", spend: 60, prev: engine.Assignment{Segment: "bronze", Since: long},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "steel", Since: asOf}, Reason: engine.ReasonMatched, Matched: "steel"},
		},

		// min_stay holds both ways until it runs out.
		{
			name: "min_stay holds an upgrade", spend: 2000, prev: engine.Assignment{Segment: "steel", Since: ago(3)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "steel", Since: ago(3)}, Reason: engine.ReasonMinStay, Matched: "gold"},
		},
		{
			name: "min_stay holds a downgrade", spend: 0, prev: engine.Assignment{Segment: "steel", Since: ago(9)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "steel", Since: ago(9)}, Reason: engine.ReasonMinStay, Matched: "bronze"},
		},
		{
			name: "min_stay ran out exactly: the customer moves", spend: 0, prev: engine.Assignment{Segment: "steel", Since: ago(10)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "bronze", Since: asOf}, Reason: engine.ReasonFallback, Matched: "bronze"},
		},
		{
			name: "min_stay with an unknown since does not hold", spend: 2000, prev: engine.Assignment{Segment: "steel"},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: asOf}, Reason: engine.ReasonMatched, Matched: "gold"},
		},

		// downgrade_grace.
		{
			name: "first dip: held, pending since as-of", spend: 500, prev: engine.Assignment{Segment: "gold", Since: long},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: long, PendingSince: asOf}, Reason: engine.ReasonGrace, Matched: "silver"},
		},
		{
			name: "dip to the fallback is held too", spend: 0, prev: engine.Assignment{Segment: "gold", Since: long},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: long, PendingSince: asOf}, Reason: engine.ReasonGrace, Matched: "bronze"},
		},
		{
			name: "later run inside the grace keeps the first pending since", spend: 500, prev: engine.Assignment{Segment: "gold", Since: long, PendingSince: ago(29)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: long, PendingSince: ago(29)}, Reason: engine.ReasonGrace, Matched: "silver"},
		},
		{
			name: "pending since after as-of restarts at as-of", spend: 500, prev: engine.Assignment{Segment: "gold", Since: long, PendingSince: asOf.Add(day)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: long, PendingSince: asOf}, Reason: engine.ReasonGrace, Matched: "silver"},
		},
		{
			name: "grace ran out exactly: released, pending cleared", spend: 500, prev: engine.Assignment{Segment: "gold", Since: long, PendingSince: ago(30)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "silver", Since: asOf}, Reason: engine.ReasonMatched, Matched: "silver"},
		},
		{
			name: "requalifying clears pending and keeps since", spend: 1000, prev: engine.Assignment{Segment: "gold", Since: long, PendingSince: ago(20)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: long}, Reason: engine.ReasonMatched, Matched: "gold"},
		},
		{
			name: "upgrade under grace is immediate", spend: 5000, prev: engine.Assignment{Segment: "silver", Since: long, PendingSince: ago(5)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "gold", Since: asOf}, Reason: engine.ReasonMatched, Matched: "gold"},
		},
		{
			name: "a previous segment that no longer exists is a move", spend: 500, prev: engine.Assignment{Segment: "platinum", Since: ago(1), PendingSince: ago(1)},
			want: engine.Decision{Assignment: engine.Assignment{Segment: "silver", Since: asOf}, Reason: engine.ReasonMatched, Matched: "silver"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := in{facts: map[string]any{"spend": tt.spend}}
			if tt.prev.Segment != "" {
				c.prev = map[string]engine.Assignment{"tier": tt.prev}
			}
			res := e.Evaluate(asOf, customer(t, rs, "c1", c))
			want := tt.want
			want.Previous = tt.prev.Segment
			got := decision(t, rs, res, "tier")
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if got.Changed() != (want.Segment != tt.prev.Segment) {
				t.Errorf("Changed() = %v", got.Changed())
			}
		})
	}
}

// A grace period spans runs: each run's decision is the next run's
// previous state.
func TestGraceAcrossRuns(t *testing.T) {
	rs := compile(t, stickyRules)
	e := engine.New(rs)
	start := date("2023-01-01")
	state := engine.Assignment{Segment: "gold", Since: start}
	runs := []struct {
		day         string
		spend       float64
		wantSegment string
		wantPending string
		wantSince   string
	}{
		{"2024-06-01", 2000, "gold", "", "2023-01-01"},
		{"2024-06-02", 500, "gold", "2024-06-02", "2023-01-01"},
		{"2024-06-20", 500, "gold", "2024-06-02", "2023-01-01"},
		{"2024-06-25", 1500, "gold", "", "2023-01-01"},
		{"2024-06-26", 300, "gold", "2024-06-26", "2023-01-01"},
		{"2024-07-25", 300, "gold", "2024-06-26", "2023-01-01"},
		{"2024-07-26", 300, "silver", "", "2024-07-26"},
		{"2024-07-27", 300, "silver", "", "2024-07-26"},
	}
	for _, r := range runs {
		c := customer(t, rs, "c1", in{facts: map[string]any{"spend": r.spend}, prev: map[string]engine.Assignment{"tier": state}})
		d := decision(t, rs, e.Evaluate(date(r.day), c), "tier")
		var wantPending time.Time
		if r.wantPending != "" {
			wantPending = date(r.wantPending)
		}
		want := engine.Assignment{Segment: r.wantSegment, Since: date(r.wantSince), PendingSince: wantPending}
		if d.Assignment != want {
			t.Fatalf("%s (spend %v): got %+v, want %+v", r.day, r.spend, d.Assignment, want)
		}
		state = d.Assignment
	}
}

// The transition helpers and state functions, read through a payload.
func TestTransitionHelpers(t *testing.T) {
	rs := compile(t, `
ruleset: transitions
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: gold
        when: spend >= 1000
      - name: silver
        when: spend >= 100
      - name: bronze
        fallback: true
actions:
  - name: probe
    when: "true"
    payload:
      entered: =entered("tier", "gold")
      left: =left("tier", "gold")
      changed: =changed("tier")
      upgraded: =upgraded("tier")
      downgraded: =downgraded("tier")
      days_in: =days_in("tier")
      days_in_previous: =days_in_previous("tier")
      rank: =rank("tier")
      previous_rank: =previous_rank("tier")
      previous: =previous.tier
`)
	e := engine.New(rs)
	tests := []struct {
		name  string
		spend float64
		prev  *engine.Assignment
		want  map[string]any
	}{
		{
			name: "first assignment, no previous state", spend: 2000,
			want: map[string]any{"entered": true, "left": false, "changed": true, "upgraded": false, "downgraded": false,
				"days_in": 0, "days_in_previous": 0, "rank": 1, "previous_rank": 0, "previous": ""},
		},
		{
			name: "upgrade", spend: 2000, prev: &engine.Assignment{Segment: "silver", Since: asOf.Add(-400 * day)},
			want: map[string]any{"entered": true, "left": false, "changed": true, "upgraded": true, "downgraded": false,
				"days_in": 0, "days_in_previous": 400, "rank": 1, "previous_rank": 2, "previous": "silver"},
		},
		{
			name: "downgrade", spend: 50, prev: &engine.Assignment{Segment: "gold", Since: asOf.Add(-7 * day)},
			want: map[string]any{"entered": false, "left": true, "changed": true, "upgraded": false, "downgraded": true,
				"days_in": 0, "days_in_previous": 7, "rank": 3, "previous_rank": 1, "previous": "gold"},
		},
		{
			name: "unchanged", spend: 2000, prev: &engine.Assignment{Segment: "gold", Since: asOf.Add(-40 * day)},
			want: map[string]any{"entered": false, "left": false, "changed": false, "upgraded": false, "downgraded": false,
				"days_in": 40, "days_in_previous": 40, "rank": 1, "previous_rank": 1, "previous": "gold"},
		},
		{
			name: "previous segment no longer in the rules", spend: 2000, prev: &engine.Assignment{Segment: "platinum", Since: asOf.Add(-3 * day)},
			want: map[string]any{"entered": true, "left": false, "changed": true, "upgraded": false, "downgraded": false,
				"days_in": 0, "days_in_previous": 3, "rank": 1, "previous_rank": 0, "previous": "platinum"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := in{facts: map[string]any{"spend": tt.spend}}
			if tt.prev != nil {
				c.prev = map[string]engine.Assignment{"tier": *tt.prev}
			}
			res := e.Evaluate(asOf, customer(t, rs, "c1", c))
			if len(res.Actions) != 1 {
				t.Fatalf("actions = %v, errors = %v", actionNames(res), res.Errors)
			}
			if got := res.Actions[0].Payload; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

// Evaluation reads only the customer it is given: a customer evaluated
// after others on the same engine sees nothing of theirs.
func TestNoStateLeaksBetweenCustomers(t *testing.T) {
	rs := compile(t, stickyRules)
	e := engine.New(rs)
	var res engine.Result
	gold := customer(t, rs, "gold", in{facts: map[string]any{"spend": 5000}, prev: map[string]engine.Assignment{"tier": {Segment: "gold", Since: date("2020-01-01"), PendingSince: date("2024-06-20")}}})
	fresh := customer(t, rs, "fresh", in{facts: map[string]any{"spend": 500}})
	want := snapshot(e.Evaluate(asOf, fresh))
	e.EvaluateInto(asOf, gold, &res)
	e.EvaluateInto(asOf, fresh, &res)
	if got := snapshot(&res); !reflect.DeepEqual(got, want) {
		t.Errorf("after another customer:\ngot  %+v\nwant %+v", got, want)
	}
}

// Facts missing from the end of a row are null.
func TestShortFactsRow(t *testing.T) {
	rs := compile(t, `
ruleset: short
facts:
  spend: number
  last_order_at: time?
segmentations:
  - name: life
    segments:
      - name: never
        when: is_null(last_order_at)
      - name: some
        fallback: true
`)
	res := engine.New(rs).Evaluate(asOf, &engine.Customer{Key: "c1", Facts: []any{12.0}})
	if got := decision(t, rs, res, "life").Segment; got != "never" {
		t.Errorf("got %s, want never", got)
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[engine.Reason]string{
		engine.ReasonMatched:  "matched",
		engine.ReasonFallback: "fallback",
		engine.ReasonMinStay:  "min_stay",
		engine.ReasonGrace:    "downgrade_grace",
		engine.ReasonError:    "error",
		engine.Reason(0):      "",
		engine.Reason(42):     "Reason(42)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", r, got, want)
		}
	}
}

func TestResultChanged(t *testing.T) {
	rs := compile(t, stickyRules)
	e := engine.New(rs)
	stay := customer(t, rs, "c1", in{facts: map[string]any{"spend": 5000}, prev: map[string]engine.Assignment{"tier": {Segment: "gold"}}})
	if res := e.Evaluate(asOf, stay); res.Changed() {
		t.Errorf("unchanged customer: Changed() = true: %+v", res)
	}
	move := customer(t, rs, "c1", in{facts: map[string]any{"spend": 5000}, prev: map[string]engine.Assignment{"tier": {Segment: "silver"}}})
	if res := e.Evaluate(asOf, move); !res.Changed() {
		t.Errorf("moved customer: Changed() = false: %+v", res)
	}
}
