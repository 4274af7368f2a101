package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// sliceRows is a Rows over values in memory, one []any per row; with
// endless set it repeats its rows forever. It counts Next calls, and
// calls onNext (if set) with the count.
type sliceRows struct {
	rows    [][]any
	endless bool
	at      int
	nexts   int
	onNext  func(n int)
}

func (r *sliceRows) Next() bool {
	r.nexts++
	if r.onNext != nil {
		r.onNext(r.nexts)
	}
	if r.endless && r.at == len(r.rows) {
		r.at = 0
	}
	if r.at >= len(r.rows) {
		return false
	}
	r.at++
	return true
}

func (r *sliceRows) Scan(dest ...any) error {
	for i, d := range dest {
		*d.(*any) = r.rows[r.at-1][i]
	}
	return nil
}

func (r *sliceRows) Err() error { return nil }

// A value a SQL source returns that does not convert, such as NaN in a
// number (float8 'NaN', REAL 9e999, or text), is the customer's fact
// error, naming the fact, instead of a silent null; so is a null in a
// fact not declared nullable.
func TestScanFactErrors(t *testing.T) {
	rs := schemaRuleSet(t)
	joined := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		spend any
		want  string // the fact error's text; "" for none
	}{
		{math.NaN(), `fact "spend": NaN is not a finite number`},
		{math.Inf(1), `fact "spend": +Inf is not a finite number`},
		{"Infinity", `fact "spend": +Inf is not a finite number`},
		{[]byte("-inf"), `fact "spend": -Inf is not a finite number`},
		{"NaN", `fact "spend": NaN is not a finite number`},
		{"abc", `fact "spend": "abc" is not a number`},
		{nil, "null, but the fact is not declared nullable (declare it as number? in facts:, or fix the source)"},
		{12.5, ""},
	}
	rows := &sliceRows{}
	for _, tt := range tests {
		rows.rows = append(rows.rows, []any{"c", tt.spend, joined})
	}
	sc := NewFactsScanner(rs, rules.Field.Coerce)
	for _, tt := range tests {
		if !rows.Next() {
			t.Fatal("rows ended early")
		}
		c, err := sc.Scan(rows.Scan)
		if err != nil {
			t.Fatalf("spend %v: %v", tt.spend, err)
		}
		if tt.want == "" {
			if len(c.FactErrors) > 0 {
				t.Errorf("spend %v: fact errors %v, want none", tt.spend, c.FactErrors)
			}
			continue
		}
		if len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "spend" || c.FactErrors[0].Err.Error() != tt.want || c.Facts[0] != nil {
			t.Errorf("spend %v: fact errors %v, facts %v; want spend: %s", tt.spend, c.FactErrors, c.Facts, tt.want)
		}
		if !c.Facts[1].(time.Time).Equal(joined) {
			t.Errorf("spend %v: the other facts were lost: %v", tt.spend, c.Facts)
		}
	}
}

// Changes never fails a run on a payload: the engine reports a payload
// that is not a finite number as a rule error and queues nothing for it,
// so whatever reaches Changes encodes as JSON.
func TestChangesNonFinitePayload(t *testing.T) {
	rs, err := rules.Compile("t.yaml", []byte(`
ruleset: t
facts: {spend: number}
segmentations:
  - name: tier
    segments:
      - {name: big, when: spend >= 100}
      - {name: small, fallback: true}
actions:
  - name: review
    when: spend >= 0
    cooldown: 30d
    payload:
      share: =spend / (spend - spend)
  - name: thanks
    when: spend >= 0
    cooldown: 30d
    payload:
      spend: =spend
      list: '=[spend, spend / 0]'
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(rs)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	var batch []jobs.Evaluated
	for i, spend := range []float64{0, 150, 20} {
		c := &engine.Customer{Key: string(rune('a' + i)), Facts: []any{spend}, State: engine.State{Segments: make([]engine.Assignment, 1)}}
		res := e.Evaluate(asOf, c)
		if len(res.Errors) != 2 {
			t.Fatalf("spend %v: errors %v, want review's share and thanks's list", spend, res.Errors)
		}
		batch = append(batch, jobs.Evaluated{Customer: c, Result: res})
	}
	var queued int
	err = Changes(rs, jobs.RunInfo{AsOf: asOf}, batch,
		func(*Assignment) error { return nil },
		func(q *Queued) error {
			queued++
			if !json.Valid(q.Payload) {
				t.Errorf("payload %s", q.Payload)
			}
			return nil
		})
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if queued != 0 {
		t.Errorf("queued %d actions, want none: each has a payload that failed", queued)
	}
}

// BatchesContext stops between two rows once its context is cancelled,
// in the middle of a batch, and returns the context's error: no more
// rows are read and no partial batch is handed out.
func TestBatchesContextCancelled(t *testing.T) {
	rs := schemaRuleSet(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const cancelAt = 150 // the 50th row of the second batch
	rows := &sliceRows{rows: [][]any{{"c", 1.0, time.Now()}}, endless: true, onNext: func(n int) {
		if n == cancelAt {
			cancel()
		}
	}}
	var handed int
	err := NewFactsScanner(rs, rules.Field.Coerce).BatchesContext(ctx, rows, 100, func(b []engine.Customer) error {
		handed += len(b)
		return nil
	}, func(err error) error { return err })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if handed != 100 || rows.nexts != cancelAt {
		t.Errorf("handed out %d customers and read %d rows after the cancel; want 100 and none", handed, rows.nexts-cancelAt)
	}
}
