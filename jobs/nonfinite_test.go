package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/rules"
)

// valueRows is a kernel.Rows over values in memory, one []any per row,
// as a database driver returns them.
type valueRows struct {
	rows [][]any
	at   int
}

func (r *valueRows) Next() bool { r.at++; return r.at <= len(r.rows) }
func (r *valueRows) Err() error { return nil }
func (r *valueRows) Scan(dest ...any) error {
	for i, d := range dest {
		*d.(*any) = r.rows[r.at-1][i]
	}
	return nil
}

// driverFacts is a facts source that reads rows the way the SQL sources
// do, through kernel's RowScanner and rules.Field.Coerce, from values in
// memory: what a driver returns for float8 'NaN' or REAL 9e999.
type driverFacts [][]any

func (f driverFacts) OpenFacts(_ context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	return driverReader{rows: f, rs: rs}, nil
}

type driverReader struct {
	rows [][]any
	rs   *rules.RuleSet
}

func (r driverReader) Count(context.Context) (int64, error) { return int64(len(r.rows)), nil }
func (r driverReader) Close() error                         { return nil }
func (r driverReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	return kernel.NewFactsScanner(r.rs, rules.Field.Coerce).BatchesContext(ctx, &valueRows{rows: r.rows}, batchSize, fn,
		func(err error) error { return err })
}

// nonFiniteRuleSet thanks every customer who enters big, and asks for a
// review of those with no orders, with the payload: spend /
// (spend - spend) is never a finite number.
const nonFiniteRuleSet = `
ruleset: nonfinite
facts:
  spend: number
  orders: integer
segmentations:
  - name: tier
    segments:
      - {name: big, when: spend >= 100}
      - {name: small, fallback: true}
actions:
  - name: review
    when: entered("tier", "big") && orders == 0
    payload:
      share: =spend / (spend - spend)
  - name: thanks
    when: entered("tier", "big")
    payload:
      orders: =orders
`

// nonFiniteDay returns the facts of 400 customers on day 0 or 1. On day
// 0 customers 0 and 1 of every hundred are big, everyone else small. On
// day 1 those big customers' spend is NaN or -Inf (which would make them
// small if it reached the rules), customers 2 and 3 of every hundred
// enter big (2 with no orders: its review fails), and the rest stay.
func nonFiniteDay(day int) driverFacts {
	var rows driverFacts
	for i := range 400 {
		spend, orders := any(50.0), any(int64(3))
		switch i % 100 {
		case 0:
			spend = []any{500.0, math.NaN()}[day]
		case 1:
			spend = []any{500.0, math.Inf(-1)}[day]
		case 2:
			spend, orders = []any{50.0, 500.0}[day], int64(0)
		case 3:
			spend = []any{50.0, 500.0}[day]
		}
		rows = append(rows, []any{fmt.Sprintf("c%03d", i), spend, orders})
	}
	return rows
}

// tiers reads every customer's tier and since from the store.
func tiers(t *testing.T, store *memstore.Store, rs *rules.RuleSet) map[string]engine.Assignment {
	t.Helper()
	st, err := store.OpenState(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	batch := make([]engine.Customer, 400)
	for i := range batch {
		batch[i].Key = fmt.Sprintf("c%03d", i)
	}
	if err := st.Load(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	out := map[string]engine.Assignment{}
	for _, c := range batch {
		out[c.Key] = c.State.Segments[0]
	}
	return out
}

// Non-finite facts and payloads are per-customer rule errors, the same in
// plan and apply: a NaN or infinite fact names the fact, and the customer
// keeps its previous segment; a payload that divides by zero names the
// action and field, and only that action is dropped. The error-rate guard
// counts them: under max_error_rate the apply succeeds (it used to fail
// with "payload is not JSON: json: unsupported value: NaN" after a
// successful plan); over it, plan and apply both refuse and nothing is
// written.
func TestNonFinitePlanAndApply(t *testing.T) {
	ctx := context.Background()
	rs := compile(t, nonFiniteRuleSet)
	day0 := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	day1 := day0.AddDate(0, 0, 1)
	wantByRule := map[string]int{"facts.spend": 8, "actions.review.payload.share": 4}

	for _, tt := range []struct {
		name      string
		rate      float64
		wantError error
	}{
		{"under max_error_rate", 0.05, nil},
		{"over max_error_rate", 0.02, jobs.ErrTooManyRuleErrors},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := memstore.New()
			if _, err := jobs.Apply(ctx, store, nonFiniteDay(0), rs, jobs.Options{AsOf: day0, Guard: jobs.Guard{MaxErrorRate: tt.rate}}); err != nil {
				t.Fatalf("day 0: %v", err)
			}
			before := tiers(t, store, rs)
			opts := jobs.Options{AsOf: day1, BatchSize: 64, Guard: jobs.Guard{MaxErrorRate: tt.rate}}
			plan, err := jobs.Plan(ctx, store, nonFiniteDay(1), rs, opts)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			apply, err := jobs.Apply(ctx, store, nonFiniteDay(1), rs, opts)
			if !errors.Is(err, tt.wantError) || (tt.wantError == nil && err != nil) {
				t.Fatalf("apply: %v, want %v", err, tt.wantError)
			}
			for _, r := range []*jobs.PlanReport{plan.Report, apply.Report} {
				if r.Errors.Customers != 12 || !maps.Equal(r.Errors.ByRule, wantByRule) {
					t.Errorf("%s: %d customers failed, by rule %v; want 12, %v", r.Mode, r.Errors.Customers, r.Errors.ByRule, wantByRule)
				}
				if r.Guard.ErrorRateExceeded != (tt.wantError != nil) {
					t.Errorf("%s: error rate exceeded = %v", r.Mode, r.Guard.ErrorRateExceeded)
				}
				for _, ex := range r.Errors.Examples {
					if ex.Rule == "facts.spend" && !strings.HasSuffix(ex.Message, "is not a finite number") ||
						ex.Rule == "actions.review.payload.share" && !strings.HasPrefix(ex.Message, "+Inf is not a finite number") {
						t.Errorf("%s: example %+v", r.Mode, ex)
					}
				}
			}
			if plan.Report.Changed != apply.Report.Changed || plan.Report.ActionsTotal != apply.Report.ActionsTotal || plan.Report.ActionsTotal != 8 {
				t.Errorf("plan: %d changed, %d actions; apply: %d, %d; want 8 actions (thanks) in both",
					plan.Report.Changed, plan.Report.ActionsTotal, apply.Report.Changed, apply.Report.ActionsTotal)
			}

			after := tiers(t, store, rs)
			queued, err := store.Actions(ctx, kernel.ActionFilter{RuleSet: rs.Name})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantError != nil {
				if !reflect.DeepEqual(after, before) || len(queued) != 0 {
					t.Errorf("the refused apply wrote: %d tiers changed, %d actions queued", diffCount(before, after), len(queued))
				}
				return
			}
			for key, a := range after {
				i := 0
				fmt.Sscanf(key, "c%d", &i)
				switch i % 100 {
				case 0, 1:
					if a != before[key] || a.Segment != "big" {
						t.Errorf("%s, whose spend is not finite: %+v, want the previous %+v", key, a, before[key])
					}
				case 2, 3:
					if a.Segment != "big" || !a.Since.Equal(day1) {
						t.Errorf("%s: %+v, want big since day 1", key, a)
					}
				}
			}
			for _, q := range queued {
				if q.Action != "thanks" {
					t.Errorf("queued %s for %s", q.Action, q.Customer)
				}
			}
			if len(queued) != 8 {
				t.Errorf("queued %d actions, want 8", len(queued))
			}
		})
	}
}

func diffCount(a, b map[string]engine.Assignment) int {
	n := 0
	for k, v := range a {
		if b[k] != v {
			n++
		}
	}
	return n
}

// A NaN or an infinity in a facts file (CSV, or a JSON string) no longer
// reaches the rules as a number: it is the customer's error naming the
// fact and the line, and the customer keeps its segments.
func TestFactsFileNonFinite(t *testing.T) {
	rs := compile(t, nonFiniteRuleSet)
	dir := t.TempDir()
	for _, f := range []struct{ name, body, bad1, bad2 string }{
		{"f.csv", "customer_id,spend,orders\n1,120,2\n2,NaN,1\n3,-Infinity,1\n", "f.csv:3)", "f.csv:4)"},
		{"f.jsonl", `{"customer_id": 1, "spend": 120, "orders": 2}` + "\n" + `{"customer_id": 2, "spend": "NaN", "orders": 1}` + "\n" +
			`{"customer_id": 3, "spend": "+Inf", "orders": 1}` + "\n", "f.jsonl:2)", "f.jsonl:3)"},
	} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := factsfile.Open(path, "")
		if err != nil {
			t.Fatal(err)
		}
		out, err := jobs.Plan(context.Background(), jobs.NoState{}, src, rs, jobs.Options{AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Guard: jobs.Guard{MaxErrorRate: -1}})
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		e := out.Report.Errors
		msgs := ""
		for _, ex := range e.Examples {
			msgs += ex.Customer + " " + ex.Rule + ": " + ex.Message + "\n"
		}
		if e.Customers != 2 || e.ByRule["facts.spend"] != 2 || !strings.Contains(msgs, "not a finite number") ||
			!strings.Contains(msgs, f.bad1) || !strings.Contains(msgs, f.bad2) {
			t.Errorf("%s: errors %+v\n%s; want 2 customers failing facts.spend, naming the lines", f.name, e, msgs)
		}
	}
}
