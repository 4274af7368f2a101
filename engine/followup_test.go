package engine_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// pressureRules has three actions that fire for every customer with
// spend > 0: wide (priority 2, email), call and call_again (priority 1,
// phone), in that file order.
const pressureRules = `
ruleset: pressure
limits:
  per_customer: 2 per 7d
  per_channel: {phone: 1 per 14d}
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: any, fallback: true}
actions:
  - {name: wide, when: spend > 0, cooldown: 1d, priority: 2, channel: email}
  - {name: call, when: spend > 0, cooldown: 30d, priority: 1, channel: phone}
  - {name: call_again, when: spend > 0, cooldown: 1d, priority: 1, channel: phone}
`

// evaluate runs c through the fast path and through Explain, which must
// agree, and returns the result.
func evaluate(t *testing.T, e *engine.Engine, at time.Time, c *engine.Customer) *engine.Result {
	t.Helper()
	res := e.Evaluate(at, c)
	tr := e.Explain(at, c)
	if !reflect.DeepEqual(res.Actions, tr.Result.Actions) || !reflect.DeepEqual(res.Withheld, tr.Result.Withheld) || !slices.Equal(res.Coverage, tr.Result.Coverage) {
		t.Fatalf("Evaluate and Explain differ:\n%+v\n%+v", res, tr.Result)
	}
	for _, w := range res.Withheld {
		for _, at := range tr.Actions {
			if at.Name == w.Name && (string(at.Outcome) != string(w.Status) || at.Why != w.Reason || at.Queued != nil) {
				t.Errorf("trace of %s = %s %q, want %s %q", w.Name, at.Outcome, at.Why, w.Status, w.Reason)
			}
		}
	}
	return res
}

// withheldOf lists the withheld actions as "name status: reason".
func withheldOf(res *engine.Result) []string {
	var out []string
	for _, w := range res.Withheld {
		out = append(out, fmt.Sprintf("%s %s: %s", w.Name, w.Status, w.Reason))
	}
	return out
}

func contactsOf(t *testing.T, rs *rules.RuleSet, at map[string][]time.Time) []engine.Contact {
	t.Helper()
	var out []engine.Contact
	for name, times := range at {
		_, i := rs.Action(name)
		if i < 0 && name != "gone" {
			t.Fatalf("no action %q", name)
		}
		for _, when := range times {
			out = append(out, engine.Contact{Action: i, At: when})
		}
	}
	return out
}

// Contact limits take the fired actions by priority, lower first, and in
// file order among equal priorities; queued actions keep file order, the
// withheld ones are listed in the order they were decided.
func TestContactLimits(t *testing.T) {
	t.Parallel()
	rs := compile(t, pressureRules)
	e := engine.New(rs)
	tests := []struct {
		name     string
		contacts map[string][]time.Time
		queued   []string
		withheld []string
	}{
		{
			name:     "no contacts yet: the phone limit keeps the second call, which is no contact, so the email fits",
			queued:   []string{"wide", "call"},
			withheld: []string{"call_again suppressed: phone contact limit 1 per 14d reached (1 contact since 2024-06-17)"},
		},
		{
			name:     "a phone contact 10 days ago: no call at all, the email goes out",
			contacts: map[string][]time.Time{"call": {asOf.Add(-10 * day)}},
			queued:   []string{"wide"},
			withheld: []string{
				"call suppressed: phone contact limit 1 per 14d reached (1 contact since 2024-06-17)",
				"call_again suppressed: phone contact limit 1 per 14d reached (1 contact since 2024-06-17)",
			},
		},
		{
			name:     "two emails this week: nothing",
			contacts: map[string][]time.Time{"wide": {asOf.Add(-1 * day), asOf.Add(-2 * day)}},
			withheld: []string{
				"call suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-24)",
				"call_again suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-24)",
				"wide suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-24)",
			},
		},
		{
			name:     "an action the rules no longer define counts for the customer, not the channel",
			contacts: map[string][]time.Time{"gone": {asOf.Add(-1 * day)}},
			queued:   []string{"call"},
			withheld: []string{
				"call_again suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-24)",
				"wide suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-24)",
			},
		},
		{
			name:     "a phone contact of the unknown action: no channel's",
			contacts: map[string][]time.Time{"gone": {asOf.Add(-10 * day)}},
			queued:   []string{"wide", "call"},
			withheld: []string{"call_again suppressed: phone contact limit 1 per 14d reached (1 contact since 2024-06-17)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := customer(t, rs, "C1", in{facts: map[string]any{"spend": 10}})
			c.State.Contacts = contactsOf(t, rs, tt.contacts)
			res := evaluate(t, e, asOf, c)
			if got := actionNames(res); !slices.Equal(got, tt.queued) {
				t.Errorf("queued %v, want %v", got, tt.queued)
			}
			if got := withheldOf(res); !slices.Equal(got, tt.withheld) {
				t.Errorf("withheld\n  %q\nwant\n  %q", got, tt.withheld)
			}
			if !res.Changed() {
				t.Errorf("Changed() = false with withheld actions")
			}
		})
	}
}

// Priority decides who gets the last contact, whatever the file order;
// file order decides among equals. Queued actions keep file order.
func TestContactLimitOrder(t *testing.T) {
	t.Parallel()
	rs := compile(t, `
ruleset: order
limits: {per_customer: 2 per 7d}
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: any, fallback: true}
actions:
  - {name: late, when: spend > 0, cooldown: 1d, priority: 9}
  - {name: first, when: spend > 0, cooldown: 1d, priority: 1}
  - {name: tie_a, when: spend > 0, cooldown: 1d, priority: 5}
  - {name: tie_b, when: spend > 0, cooldown: 1d, priority: 5}
  - {name: urgent, when: spend > 0, cooldown: 1d, priority: -1}
`)
	res := evaluate(t, engine.New(rs), asOf, customer(t, rs, "C1", in{facts: map[string]any{"spend": 1}}))
	if got, want := actionNames(res), []string{"first", "urgent"}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
	var got []string
	for _, w := range res.Withheld {
		got = append(got, w.Name)
	}
	if want := []string{"tie_a", "tie_b", "late"}; !slices.Equal(got, want) {
		t.Errorf("withheld %v, want %v", got, want)
	}
	rs = compile(t, `
ruleset: order
limits: {per_customer: 3 per 7d}
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: any, fallback: true}
actions:
  - {name: late, when: spend > 0, cooldown: 1d, priority: 9}
  - {name: tie_b, when: spend > 0, cooldown: 1d, priority: 5}
  - {name: tie_a, when: spend > 0, cooldown: 1d, priority: 5}
  - {name: first, when: spend > 0, cooldown: 1d, priority: 1}
  - {name: urgent, when: spend > 0, cooldown: 1d, priority: -1}
`)
	res = evaluate(t, engine.New(rs), asOf, customer(t, rs, "C1", in{facts: map[string]any{"spend": 1}}))
	if got, want := actionNames(res), []string{"tie_b", "first", "urgent"}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v: tie_b comes first in the file", got, want)
	}
}

// A contact counts when it is inside the window: after as-of minus the
// window and not after as-of.
func TestContactWindow(t *testing.T) {
	t.Parallel()
	rs := compile(t, `
ruleset: window
limits: {per_customer: 1 per 7d}
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: any, fallback: true}
actions:
  - {name: mail, when: spend > 0, cooldown: 1d}
`)
	e := engine.New(rs)
	tests := []struct {
		name   string
		at     time.Time
		counts bool
	}{
		{"exactly the window ago", asOf.Add(-7 * day), false},
		{"a second inside the window", asOf.Add(-7*day + time.Second), true},
		{"long ago", date("2023-01-01"), false},
		{"at the as-of", asOf, true},
		{"after the as-of", asOf.Add(time.Second), false},
		{"next week", asOf.Add(7 * day), false},
	}
	for _, tt := range tests {
		c := customer(t, rs, "C1", in{facts: map[string]any{"spend": 1}})
		c.State.Contacts = []engine.Contact{{Action: 0, At: tt.at}}
		res := evaluate(t, e, asOf, c)
		if suppressed := len(res.Withheld) == 1; suppressed != tt.counts {
			t.Errorf("%s: suppressed = %v, want %v (queued %v)", tt.name, suppressed, tt.counts, actionNames(res))
		}
	}
}

// An action in its cooldown does not fire, so it neither counts against
// a limit nor is withheld. A suppressed action is no contact and starts no
// cooldown (the store does not record it as queued): on the next run it
// is decided again.
func TestContactLimitsAndCooldowns(t *testing.T) {
	t.Parallel()
	rs := compile(t, pressureRules)
	e := engine.New(rs)
	spend := map[string]any{"spend": 10}

	// call was queued 20 days ago: its 30-day cooldown holds it, so
	// call_again takes the phone contact.
	c := customer(t, rs, "C1", in{facts: spend, last: map[string]time.Time{"call": asOf.Add(-20 * day)}})
	c.State.Contacts = contactsOf(t, rs, map[string][]time.Time{"call": {asOf.Add(-20 * day)}})
	res := evaluate(t, e, asOf, c)
	if got, want := actionNames(res), []string{"wide", "call_again"}; !slices.Equal(got, want) || len(res.Withheld) != 0 {
		t.Fatalf("queued %v, withheld %v; want %v and none", got, withheldOf(res), want)
	}

	// Run 1: call and wide go out; call_again is over the phone limit.
	c = customer(t, rs, "C1", in{facts: spend})
	res = evaluate(t, e, asOf, c)
	if got := actionNames(res); !slices.Equal(got, []string{"wide", "call"}) || len(res.Withheld) != 1 {
		t.Fatalf("run 1: queued %v, withheld %v", got, withheldOf(res))
	}
	// Run 2, a day later, with what a store keeps: call and wide queued
	// (contacts, and their cooldowns), nothing for call_again, which is
	// decided again: it fires, and is now over the customer limit, as is
	// wide, whose 1-day cooldown has passed.
	next := asOf.Add(day)
	last := map[string]time.Time{"call": asOf, "wide": asOf}
	sent := contactsOf(t, rs, map[string][]time.Time{"call": {asOf}, "wide": {asOf}})
	c = customer(t, rs, "C1", in{facts: spend, last: last})
	c.State.Contacts = sent
	res = evaluate(t, e, next, c)
	want := []string{
		"call_again suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-25)",
		"wide suppressed: contact limit 2 per 7d reached (2 contacts since 2024-06-25)",
	}
	if got := withheldOf(res); len(res.Actions) != 0 || !slices.Equal(got, want) {
		t.Errorf("run 2: queued %v, withheld %q; want none and %q", actionNames(res), got, want)
	}
	// Run 3, 15 days after the first: call is in its cooldown, both
	// windows are past, and call_again goes out at last.
	c = customer(t, rs, "C1", in{facts: spend, last: last})
	c.State.Contacts = sent
	res = evaluate(t, e, asOf.Add(15*day), c)
	if got, want := actionNames(res), []string{"wide", "call_again"}; !slices.Equal(got, want) || len(res.Withheld) != 0 {
		t.Errorf("run 3: queued %v, withheld %v; want %v", got, withheldOf(res), want)
	}
}

// heldOutKey returns a customer key that is (in true) or is not (in
// false) in the holdout group of action of rule set rs at basis points bp.
func heldOutKey(t *testing.T, rs, action string, bp int, in bool) string {
	t.Helper()
	for i := range 1000 {
		key := fmt.Sprintf("C%03d", i)
		if (rules.HoldoutBucket(rs, action, "", key) < bp) == in {
			return key
		}
	}
	t.Fatalf("no key with held out = %v", in)
	return ""
}

// The holdout is decided before the contact limits: a held-out action
// uses no contact, so a lower-priority action takes it.
func TestHoldoutBeforeLimits(t *testing.T) {
	t.Parallel()
	rs := compile(t, `
ruleset: hold
limits: {per_customer: 1 per 7d}
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: any, fallback: true}
actions:
  - {name: offer, when: spend > 0, cooldown: 30d, priority: 1, holdout: 50%}
  - {name: mail, when: spend > 0, cooldown: 1d, priority: 2}
`)
	e := engine.New(rs)
	out := heldOutKey(t, "hold", "offer", 5000, true)
	res := evaluate(t, e, asOf, customer(t, rs, out, in{facts: map[string]any{"spend": 1}}))
	bucket := rules.HoldoutBucket("hold", "offer", "", out)
	want := fmt.Sprintf("offer held_out: in the 50%% holdout group (bucket %d of 10000, below 5000)", bucket)
	if got := withheldOf(res); !slices.Equal(got, []string{want}) {
		t.Errorf("withheld %q, want %q", got, want)
	}
	if got := actionNames(res); !slices.Equal(got, []string{"mail"}) {
		t.Errorf("queued %v, want [mail]: the held-out offer is no contact", got)
	}

	kept := heldOutKey(t, "hold", "offer", 5000, false)
	res = evaluate(t, e, asOf, customer(t, rs, kept, in{facts: map[string]any{"spend": 1}}))
	if got := actionNames(res); !slices.Equal(got, []string{"offer"}) {
		t.Errorf("queued %v, want [offer]", got)
	}
	if got := withheldOf(res); len(got) != 1 || res.Withheld[0].Name != "mail" || res.Withheld[0].Status != engine.Suppressed {
		t.Errorf("withheld %v, want mail suppressed", got)
	}
}

// A holdout is a pure function of the rule set, the action, the salt and
// the key: the same on every call and in every engine, and as large as
// declared.
func TestHoldoutMembership(t *testing.T) {
	t.Parallel()
	const src = `
ruleset: hold
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: any, fallback: true}
actions:
  - {name: offer, when: spend > 0, cooldown: 30d, holdout: 10%%, holdout_salt: %s}
`
	rs := compile(t, fmt.Sprintf(src, "spring"))
	salted := compile(t, fmt.Sprintf(src, "autumn"))
	e1, e2, e3 := engine.New(rs), engine.New(compile(t, fmt.Sprintf(src, "spring"))), engine.New(salted)
	const n = 100_000
	held, differ := 0, 0
	var reuse engine.Result
	for i := range n {
		key := fmt.Sprintf("customer-%d", i)
		c := customer(t, rs, key, in{facts: map[string]any{"spend": 1}})
		res := e1.Evaluate(asOf, c)
		out := len(res.Withheld) == 1
		if out != (rules.HoldoutBucket("hold", "offer", "spring", key) < 1000) || out != rs.Actions[0].Holdout.Holds("hold", "offer", key) {
			t.Fatalf("%s: held out = %v, but its bucket says otherwise", key, out)
		}
		if out == (len(res.Actions) == 1) {
			t.Fatalf("%s: queued %v and withheld %v", key, actionNames(res), withheldOf(res))
		}
		if i%10 == 0 {
			if again := len(e1.Evaluate(asOf, c).Withheld) == 1; again != out {
				t.Fatalf("%s: held out %v, then %v", key, out, again)
			}
			e2.EvaluateInto(asOf.Add(30*day), c, &reuse)
			if other := len(reuse.Withheld) == 1; other != out {
				t.Fatalf("%s: held out %v in one engine, %v in another", key, out, other)
			}
			if salt := len(e3.Evaluate(asOf, c).Withheld) == 1; salt != out {
				differ++
			}
		}
		if out {
			held++
		}
	}
	if share := float64(held) / n; share < 0.09 || share > 0.11 {
		t.Errorf("held out %.4f of %d keys, want 0.10 ± 0.01", share, n)
	}
	// Another salt draws another group: about 18% of keys change sides
	// (0.1 × 0.9 × 2).
	if share := float64(differ) / (n / 10); share < 0.12 || share > 0.24 {
		t.Errorf("another salt moved %.3f of keys, want about 0.18", share)
	}
}

const coverageRules = `
ruleset: care
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 1000
        coverage: {every: 28d, by: [visit], counts: [reached, converted]}
      - name: regular
        fallback: true
actions:
  - name: visit
    when: overdue("tier")
    cooldown: 7d
    outcomes: [reached, no_answer, converted]
    payload:
      days: =days_since_covered("tier")
  - name: mail
    when: spend < 0
    cooldown: 1d
    outcomes: [reached]
`

// TestCoverageState checks the coverage state at its edges: covered
// strictly within the window, pending while the customer is newer to the
// segment than the window, overdue otherwise.
func TestCoverageState(t *testing.T) {
	t.Parallel()
	rs := compile(t, coverageRules)
	e := engine.New(rs)
	vip := map[string]any{"spend": 2000}
	longAgo := map[string]engine.Assignment{"tier": {Segment: "vip", Since: date("2023-01-01")}}
	outcome := func(action int, name string, at time.Time) []engine.ActionOutcome {
		return []engine.ActionOutcome{{Action: action, Outcome: name, At: at}}
	}
	tests := []struct {
		name     string
		facts    map[string]any
		prev     map[string]engine.Assignment
		outcomes []engine.ActionOutcome
		want     engine.CoverageState
		days     int
	}{
		{"reached 27 days ago", vip, longAgo, outcome(0, "reached", asOf.Add(-27*day)), engine.CoverageCovered, 27},
		{"converted a second inside the window", vip, longAgo, outcome(0, "converted", asOf.Add(-28*day+time.Second)), engine.CoverageCovered, 27},
		{"reached exactly every ago", vip, longAgo, outcome(0, "reached", asOf.Add(-28*day)), engine.CoverageOverdue, 28},
		{"reached at the as-of", vip, longAgo, outcome(0, "reached", asOf), engine.CoverageCovered, 0},
		{"reached after the as-of", vip, longAgo, outcome(0, "reached", asOf.Add(time.Hour)), engine.CoverageOverdue, -1},
		{"an outcome that does not count", vip, longAgo, outcome(0, "no_answer", asOf.Add(-day)), engine.CoverageOverdue, -1},
		{"an action that does not cover", vip, longAgo, outcome(1, "reached", asOf.Add(-day)), engine.CoverageOverdue, -1},
		{"never covered, long in the segment", vip, longAgo, nil, engine.CoverageOverdue, -1},
		{"new to the segment", vip, nil, nil, engine.CoveragePending, -1},
		{"entered from regular today", vip, map[string]engine.Assignment{"tier": {Segment: "regular", Since: date("2023-01-01")}}, nil, engine.CoveragePending, -1},
		{"in the segment 27 days", vip, map[string]engine.Assignment{"tier": {Segment: "vip", Since: asOf.Add(-27 * day)}}, nil, engine.CoveragePending, -1},
		{"in the segment exactly every", vip, map[string]engine.Assignment{"tier": {Segment: "vip", Since: asOf.Add(-28 * day)}}, nil, engine.CoverageOverdue, -1},
		{"covered long ago, the window runs from it", vip, map[string]engine.Assignment{"tier": {Segment: "vip", Since: asOf.Add(-10 * day)}}, outcome(0, "reached", asOf.Add(-40*day)), engine.CoveragePending, 40},
		{"the latest of several outcomes", vip, longAgo, []engine.ActionOutcome{
			{Action: 0, Outcome: "reached", At: asOf.Add(-90 * day)},
			{Action: 0, Outcome: "converted", At: asOf.Add(-3 * day)},
			{Action: 0, Outcome: "reached", At: asOf.Add(-50 * day)},
		}, engine.CoverageCovered, 3},
		{"a segment without a target", map[string]any{"spend": 10}, longAgo, outcome(0, "reached", asOf.Add(-day)), engine.CoverageNone, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := customer(t, rs, "C1", in{facts: tt.facts, prev: tt.prev})
			c.State.Outcomes = tt.outcomes
			res := evaluate(t, e, asOf, c)
			if len(res.Coverage) != 1 || res.Coverage[0] != tt.want {
				t.Fatalf("Coverage = %v, want [%v]", res.Coverage, tt.want)
			}
			tr := e.Explain(asOf, c)
			if st := tr.Segmentations[0]; st.Coverage != tt.want || st.DaysSinceCovered != tt.days {
				t.Errorf("trace: %v, %d days; want %v, %d", st.Coverage, st.DaysSinceCovered, tt.want, tt.days)
			}
			// overdue() and days_since_covered() read the same state.
			fired := slices.Equal(actionNames(res), []string{"visit"})
			if fired != (tt.want == engine.CoverageOverdue) {
				t.Errorf("visit queued = %v with coverage %v", fired, tt.want)
			}
			if fired && res.Actions[0].Payload["days"] != tt.days {
				t.Errorf("payload days = %v, want %d", res.Actions[0].Payload["days"], tt.days)
			}
		})
	}
}

// A rule set without coverage targets reports none.
func TestCoverageWithoutTargets(t *testing.T) {
	t.Parallel()
	rs := compile(t, pressureRules)
	res := engine.New(rs).Evaluate(asOf, customer(t, rs, "C1", in{facts: map[string]any{"spend": 0}}))
	if res.Coverage != nil {
		t.Errorf("Coverage = %v, want nil", res.Coverage)
	}
}
