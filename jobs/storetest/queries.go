package storetest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var queryCases = []testCase{
	{"history and actions queries", testHistoryAndActions},
	{"explain reads a customer's facts and state", testCustomer},
}

// History lists a customer's moves oldest first, per rule set or across
// all; Actions filters the queue and orders it most urgent first.
func testHistoryAndActions(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 600)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	first := e.applyAt(rs, day(0), o)
	e.applyAt(renamed(t, copyName), day(0), o)
	ShiftFacts(t, e.s.DB())
	second := e.applyAt(rs, day(1), o)

	// Customer 3 changes channel (online -> store) and, as every third
	// customer, spends less than half of last year.
	h, err := e.s.History(ctx, retailName, "3")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) < 4 {
		t.Fatalf("history of customer 3: %+v, want 3 first assignments and at least one move", h)
	}
	for i, m := range h {
		if m.RuleSet != retailName || (i > 0 && m.ID <= h[i-1].ID) {
			t.Fatalf("history entry %d: %+v; want retail, oldest first", i, m)
		}
		if i < 3 && (m.From != nil || m.RunID != first.RunID || !m.AsOf.Equal(day(0)) || m.Matched == "" || m.Reason == "") {
			t.Fatalf("first assignment %+v: want no previous segment, run %d, as of %s, the matched segment and a reason", m, first.RunID, day(0))
		}
		if i >= 3 && (m.From == nil || *m.From == m.To || m.RunID != second.RunID || !m.AsOf.Equal(day(1))) {
			t.Fatalf("move %+v: want a previous segment, run %d, as of %s", m, second.RunID, day(1))
		}
	}
	var source []string
	for _, m := range h {
		if m.Segmentation == "source" {
			source = append(source, m.To)
		}
	}
	if strings.Join(source, ",") != "online,store" {
		t.Fatalf("customer 3's source history: %v, want online then store", source)
	}
	all, err := e.s.History(ctx, "", "3")
	if err != nil || len(all) != len(h)+3 {
		t.Fatalf("history of customer 3 in every rule set: %d entries (%v), want %d", len(all), err, len(h)+3)
	}
	if none, err := e.s.History(ctx, retailName, "no-such-customer"); err != nil || len(none) != 0 {
		t.Fatalf("history of an unknown customer: %v, %v", none, err)
	}

	queue, err := e.s.Actions(ctx, kernel.ActionFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(queue) != second.Report.ActionsTotal || len(queue) < 2 {
		t.Fatalf("the queue lists %d actions, the apply queued %d", len(queue), second.Report.ActionsTotal)
	}
	for i := 1; i < len(queue); i++ {
		a, b := queue[i-1], queue[i]
		if a.Priority > b.Priority || (a.Priority == b.Priority && (a.DueAt.After(b.DueAt) || (a.DueAt.Equal(b.DueAt) && a.ID > b.ID))) {
			t.Fatalf("the queue is not most urgent first at %d: %+v before %+v", i, a, b)
		}
	}
	if two, err := e.s.Actions(ctx, kernel.ActionFilter{Limit: 2}); err != nil || len(two) != 2 || two[0].ID != queue[0].ID {
		t.Fatalf("Actions with limit 2: %+v, %v", two, err)
	}
	if def, err := e.s.Actions(ctx, kernel.ActionFilter{}); err != nil || len(def) != min(50, len(queue)) {
		t.Fatalf("Actions with the default limit: %d rows, %v", len(def), err)
	}
	one := queue[len(queue)-1]
	filters := []kernel.ActionFilter{
		{Customer: one.Customer},
		{RuleSet: retailName, Action: one.Action, Customer: one.Customer, Status: "pending"},
	}
	for _, f := range filters {
		got, err := e.s.Actions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, q := range got {
			if q.Customer != one.Customer || (f.Action != "" && q.Action != f.Action) {
				t.Fatalf("Actions(%+v) lists %+v", f, q)
			}
			found = found || (q.ID == one.ID && string(q.Payload) == string(one.Payload))
		}
		if !found {
			t.Fatalf("Actions(%+v) = %+v; want action %d among them", f, got, one.ID)
		}
	}
	for _, f := range []kernel.ActionFilter{{Status: "done"}, {RuleSet: copyName}, {Action: "no_such_action"}} {
		if got, err := e.s.Actions(ctx, f); err != nil || len(got) != 0 {
			t.Fatalf("Actions(%+v) = %+v, %v; want none", f, got, err)
		}
	}
}

// Customer reads one customer's facts, typed as the rule set declares
// them, and state as the last apply left it; evaluating them again at
// the same as-of changes nothing. An unknown key is an error.
func testCustomer(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 300)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	ShiftFacts(t, e.s.DB())
	e.applyAt(rs, day(1), o)

	eng := engine.New(rs)
	for id := 1; id <= 300; id++ {
		key := strconv.Itoa(id)
		c, err := jobs.FindCustomer(ctx, e.s, e.f, rs, key, jobs.At(day(1)))
		if err != nil {
			t.Fatalf("customer %s: %v", key, err)
		}
		want := Generated(id)
		spend, _ := c.Facts[0].(float64)
		orders, _ := c.Facts[2].(int)
		if c.Key != key || spend != want.Spend || orders != want.Orders {
			t.Fatalf("customer %s: key %q, facts %v; want spend %v and %d orders", key, c.Key, c.Facts, want.Spend, want.Orders)
		}
		if last := c.Facts[4]; (last == nil) != (want.LastOrder == "") {
			t.Fatalf("customer %s: last order %v, want %q", key, last, want.LastOrder)
		}
		var res engine.Result
		eng.EvaluateInto(day(1), c, &res)
		for i, d := range res.Segments {
			var stored string
			e.scan(`SELECT segment FROM {assignments} WHERE ruleset = 'retail' AND customer_key = $1 AND segmentation = $2`,
				[]any{key, rs.Segmentations[i].Name}, &stored)
			prev := c.State.Segments[i]
			if prev.Segment != stored || d.Segment != prev.Segment || prev.Since.IsZero() {
				t.Fatalf("customer %s, %s: stored %q, read %+v, evaluates to %q; want all the same",
					key, rs.Segmentations[i].Name, stored, prev, d.Segment)
			}
		}
	}
	c, err := jobs.FindCustomer(ctx, e.s, e.f, rs, "3", jobs.At(day(1)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := time.Parse(time.DateOnly, Generated(3).FirstOrder)
	if err != nil {
		t.Fatal(err)
	}
	if first, ok := c.Facts[3].(time.Time); !ok || !first.Equal(want) || first.Location() != time.UTC {
		t.Fatalf("customer 3's first order: %v, want %s: a date is midnight UTC", c.Facts[3], want)
	}
	if _, err := jobs.FindCustomer(ctx, e.s, e.f, rs, "999999", jobs.At(day(1))); err == nil || !strings.Contains(err.Error(), "no customer") {
		t.Fatalf("an unknown customer: %v", err)
	}
}
