package engine_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// nonFiniteRules divides by zero in a payload, as in the issue: spend /
// (spend - spend) is +Inf, NaN or -Inf for every customer.
const nonFiniteRules = `
ruleset: nonfinite
facts:
  spend: number
  orders: integer
  channel: string
segmentations:
  - name: tier
    segments:
      - {name: big, when: spend >= 100}
      - {name: small, fallback: true}
  - name: source
    segments:
      - {name: partner, when: channel == "partner"}
      - {name: direct, fallback: true}
actions:
  - name: review
    when: orders > 0
    cooldown: 30d
    payload:
      owner: account_manager
      share: =spend / (spend - spend)
  - name: thanks
    when: orders > 0
    cooldown: 30d
    payload:
      orders: =orders
`

// wantKept checks that every segmentation failed and kept prev (by
// segmentation name; absent means no previous segment), and that nothing
// was queued.
func wantKept(t *testing.T, rs *rules.RuleSet, res *engine.Result, prev map[string]string) {
	t.Helper()
	for _, s := range rs.Segmentations {
		d := decision(t, rs, res, s.Name)
		if d.Reason != engine.ReasonError || d.Segment != prev[s.Name] || d.Previous != prev[s.Name] {
			t.Errorf("%s: %+v, want the previous segment %q kept with reason error", s.Name, d, prev[s.Name])
		}
	}
	if len(res.Actions) > 0 {
		t.Errorf("actions = %v, want none for a customer whose facts could not be used", actionNames(res))
	}
}

// A NaN or infinite fact, from a source that did not refuse it, is a rule
// error of that customer naming the fact: every segmentation keeps its
// previous segment, even one that does not read the fact, and no action
// is queued. Customers around it are unaffected.
func TestNonFiniteFacts(t *testing.T) {
	rs := compile(t, nonFiniteRules)
	e := engine.New(rs)
	since := date("2024-01-01")
	prev := engine.State{Segments: []engine.Assignment{{Segment: "big", Since: since}, {Segment: "partner", Since: since}}}
	good := &engine.Customer{Key: "good", Facts: []any{50.0, 0, "store"}, State: prev}
	want := snapshot(e.Evaluate(asOf, good))
	tests := []struct {
		name  string
		spend float64
		state engine.State
		kept  map[string]string
		msg   string
	}{
		{"NaN", math.NaN(), prev, map[string]string{"tier": "big", "source": "partner"}, `fact "spend": NaN is not a finite number`},
		{"+Inf", math.Inf(1), prev, map[string]string{"tier": "big", "source": "partner"}, `fact "spend": +Inf is not a finite number`},
		{"-Inf", math.Inf(-1), prev, map[string]string{"tier": "big", "source": "partner"}, `fact "spend": -Inf is not a finite number`},
		{"NaN, no previous state: unassigned", math.NaN(), engine.State{}, map[string]string{}, `fact "spend": NaN is not a finite number`},
	}
	var res engine.Result
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &engine.Customer{Key: "bad", Facts: []any{tt.spend, 3, "store"}, State: tt.state}
			e.EvaluateInto(asOf, c, &res)
			if len(res.Errors) != 1 || res.Errors[0].Key != "bad" || res.Errors[0].Rule != "facts.spend" || res.Errors[0].Message() != tt.msg {
				t.Fatalf("errors = %v, want one on facts.spend: %s", res.Errors, tt.msg)
			}
			wantKept(t, rs, &res, tt.kept)
			e.EvaluateInto(asOf, good, &res)
			if got := snapshot(&res); !reflect.DeepEqual(got, want) {
				t.Errorf("the next customer:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

// A fact the reader could not use arrives as Customer.FactErrors: each is
// a rule error naming the fact, unwrapping to the reader's error, and
// the customer is not evaluated. A plan counts the customer once.
func TestFactErrors(t *testing.T) {
	rs := compile(t, nonFiniteRules)
	e := engine.New(rs)
	since := date("2024-01-01")
	readErr := errors.New(`fact "channel": 7 (int) is not a string`)
	c := &engine.Customer{Key: "c9", Facts: []any{150.0, 3, nil},
		State:      engine.State{Segments: []engine.Assignment{{Segment: "small", Since: since}, {}}},
		FactErrors: []engine.FactError{{Fact: "channel", Err: readErr}, {Fact: "orders", Err: errors.New("bad")}}}
	res := e.Evaluate(asOf, c)
	if len(res.Errors) != 2 || res.Errors[0].Rule != "facts.channel" || res.Errors[1].Rule != "facts.orders" || !errors.Is(&res.Errors[0], readErr) {
		t.Fatalf("errors = %v, want facts.channel then facts.orders", res.Errors)
	}
	if got := res.Errors[0].Error(); got != `customer c9: facts.channel: fact "channel": 7 (int) is not a string` {
		t.Errorf("Error() = %q", got)
	}
	wantKept(t, rs, res, map[string]string{"tier": "small"})

	p := engine.NewPlan(rs)
	p.Add(c.Key, res)
	if p.Errors != 1 || p.ErrorsByRule["facts.channel"] != 1 || p.ErrorsByRule["facts.orders"] != 1 || p.Changed != 0 || p.TotalActions() != 0 {
		t.Errorf("plan: errors %d by rule %v, changed %d, actions %d", p.Errors, p.ErrorsByRule, p.Changed, p.TotalActions())
	}

	tr := e.Explain(asOf, c)
	if len(tr.Result.Errors) != 2 {
		t.Errorf("explain errors = %v", tr.Result.Errors)
	}
	if st := segTrace(t, tr, "tier"); st.Note != "a fact could not be used: the previous segment small is kept" || st.Decision.Reason != engine.ReasonError {
		t.Errorf("tier trace: %+v", st)
	}
	if st := segTrace(t, tr, "source"); !strings.Contains(st.Note, "left unassigned") {
		t.Errorf("source trace note: %q", st.Note)
	}
	if at := actTrace(t, tr, "review"); at.Outcome != engine.OutcomeNotReached || at.Queued != nil {
		t.Errorf("review trace: %+v", at)
	}
}

// A payload that is not a finite number, such as the issue's
// =spend / (spend - spend), is a rule error naming the action and payload
// field: the action is not queued, while the segments and the other
// actions are decided as usual. Whatever is queued encodes as JSON.
func TestNonFinitePayload(t *testing.T) {
	rs := compile(t, nonFiniteRules)
	e := engine.New(rs)
	for _, tt := range []struct {
		spend float64
		value string
		facts string
	}{{150, "+Inf", "150"}, {0, "NaN", "0"}, {-5, "-Inf", "-5"}} {
		c := &engine.Customer{Key: "c1", Facts: []any{tt.spend, 2, "store"}}
		for _, res := range []*engine.Result{e.Evaluate(asOf, c), e.Explain(asOf, c).Result} {
			if len(res.Errors) != 1 {
				t.Fatalf("spend %v: errors = %v, want 1", tt.spend, res.Errors)
			}
			re := res.Errors[0]
			// The facts the payload read follow the message.
			want := tt.value + " is not a finite number (a division by zero? safe_div(a, b, default) guards one) (spend = " + tt.facts + ")"
			if re.Key != "c1" || re.Rule != "actions.review.payload.share" || re.Message() != want {
				t.Errorf("spend %v: error %q, want actions.review.payload.share: %s", tt.spend, re.Error(), want)
			}
			if got := actionNames(res); len(got) != 1 || got[0] != "thanks" {
				t.Errorf("spend %v: actions = %v, want thanks only", tt.spend, got)
			}
			if d := decision(t, rs, res, "tier"); d.Reason == engine.ReasonError || d.Segment == "" {
				t.Errorf("spend %v: tier %+v, want decided as usual", tt.spend, d)
			}
		}
	}
	at := actTrace(t, e.Explain(asOf, &engine.Customer{Key: "c1", Facts: []any{150.0, 2, "store"}}), "review")
	if at.Outcome != engine.OutcomeError || !strings.HasPrefix(at.Why, "payload share: +Inf is not a finite number") {
		t.Errorf("review trace: outcome %s, why %q", at.Outcome, at.Why)
	}
}

// Every number in a payload must be finite, at any depth; a constant the
// rule file writes is checked too (without the division hint).
func TestNonFinitePayloadShapes(t *testing.T) {
	tests := []struct {
		payload string
		msg     string // "" when it is queued
	}{
		{`=[1, spend / 0]`, "item 1: +Inf is not a finite number (a division by zero? safe_div(a, b, default) guards one) (spend = 150)"},
		{`'={"x": [spend / 0]}'`, `key "x": item 0: +Inf is not a finite number (a division by zero? safe_div(a, b, default) guards one) (spend = 150)`},
		{`=round(-spend / 0)`, "-Inf is not a finite number (a division by zero? safe_div(a, b, default) guards one) (spend = 150)"},
		{`=spend ** 1000`, "+Inf is not a finite number (a division by zero? safe_div(a, b, default) guards one) (spend = 150)"},
		{`.nan`, "NaN is not a finite number"},
		{`=safe_div(spend, spend - spend, 0)`, ""},
		{`=[spend, as_of, as_of - as_of, "x", true, nil]`, ""},
		{`=1..3`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			rs := compile(t, `
ruleset: shapes
facts: {spend: number}
segmentations:
  - name: tier
    segments:
      - {name: big, when: spend >= 100}
      - {name: small, fallback: true}
actions:
  - name: note
    when: spend > 0
    cooldown: 30d
    payload:
      v: `+tt.payload+"\n")
			res := engine.New(rs).Evaluate(asOf, &engine.Customer{Key: "c1", Facts: []any{150.0}})
			if tt.msg == "" {
				if len(res.Errors) > 0 || len(res.Actions) != 1 {
					t.Fatalf("errors %v, actions %v: want it queued", res.Errors, actionNames(res))
				}
				if _, err := json.Marshal(res.Actions[0].Payload); err != nil {
					t.Errorf("queued payload %v does not encode: %v", res.Actions[0].Payload, err)
				}
				return
			}
			if len(res.Errors) != 1 || res.Errors[0].Rule != "actions.note.payload.v" || res.Errors[0].Message() != tt.msg || len(res.Actions) > 0 {
				t.Fatalf("errors %v, actions %v: want one on actions.note.payload.v: %s", res.Errors, actionNames(res), tt.msg)
			}
		})
	}
}
