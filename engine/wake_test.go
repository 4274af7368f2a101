package engine_test

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

// wakeCase is one customer of a small rule set and the wake-up time its
// evaluation at asOf must give: an instant, never (zero) or every run
// (asOf itself).
type wakeCase struct {
	name  string
	rules string
	asOf  time.Time
	c     in
	// outcomes and contacts go into the customer's state.
	outcomes []engine.ActionOutcome
	contacts []engine.Contact
	want     time.Time
}

const never = "never"

// wakeRules is a rule set with one segmentation whose first segment's
// condition is cond, and the facts the cases read.
func wakeRules(header, cond string) string {
	return `
ruleset: wake
` + header + `
facts:
  spend: number
  score: integer?
  seen_at: time?
  renew_at: time?
  joined_on: date?
segmentations:
  - name: tier
    segments:
      - name: a
        when: ` + cond + `
      - name: b
        fallback: true
`
}

func TestWakeConditions(t *testing.T) {
	t.Parallel()
	at := retailAsOf // 2024-07-01T00:00:00Z
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cases := []wakeCase{
		{name: "days since a time crosses the threshold", rules: wakeRules("", "days_since(seen_at) > 90"),
			c: in{facts: map[string]any{"seen_at": at.Add(-10 * day)}}, want: at.Add(81 * day)},
		{name: "a condition that holds and only gets truer never flips", rules: wakeRules("", "days_since(seen_at) > 5"),
			c: in{facts: map[string]any{"seen_at": at.Add(-10 * day)}}, want: time.Time{}},
		{name: "arithmetic on days_since wakes every run", rules: wakeRules("", "days_since(seen_at) * 2 > 10"),
			c: in{facts: map[string]any{"seen_at": at.Add(-1 * day)}}, want: at},
		{name: "the as-of as text wakes every run", rules: wakeRules("", `string(as_of) == ""`), want: at},
		{name: "a comparison skipped by || is not waited for", rules: wakeRules("", "spend > 100 || days_since(seen_at) > 5"),
			c: in{facts: map[string]any{"spend": 200, "seen_at": at}}, want: time.Time{}},
		{name: "a comparison reached past || is", rules: wakeRules("", "spend > 100 || days_since(seen_at) > 5"),
			c: in{facts: map[string]any{"spend": 50, "seen_at": at}}, want: at.Add(6 * day)},
		{name: "a guard against null skips the measure", rules: wakeRules("", "seen_at == nil || days_since(seen_at) > 5"),
			c: in{facts: map[string]any{"seen_at": nil}}, want: time.Time{}},
		{name: "no time at all", rules: wakeRules("", "spend > 100"), c: in{facts: map[string]any{"spend": 1}}, want: time.Time{}},
		{name: "a date counts days on the zone's calendar", rules: wakeRules("timezone: Asia/Shanghai", "days_since(joined_on) < 30"),
			c: in{facts: map[string]any{"joined_on": "2024-06-25"}}, want: time.Date(2024, 7, 24, 16, 0, 0, 0, time.UTC)},
		{name: "as_of passes a time", rules: wakeRules("", "as_of > renew_at"),
			c: in{facts: map[string]any{"renew_at": at.Add(5 * time.Hour)}}, want: at.Add(5*time.Hour + 1)},
		{name: "the as-of date reaches a day at midnight in the zone", rules: wakeRules("timezone: America/New_York", `date(as_of) >= date("2024-08-01")`),
			want: time.Date(2024, 8, 1, 0, 0, 0, 0, ny)},
		{name: "months since a time", rules: wakeRules("", "months_since(seen_at) >= 3"),
			c: in{facts: map[string]any{"seen_at": time.Date(2024, 5, 15, 10, 0, 0, 0, time.UTC)}}, want: time.Date(2024, 8, 15, 10, 0, 0, 0, time.UTC)},
		{name: "a new year in the zone", rules: wakeRules("timezone: Asia/Shanghai", "year(as_of) >= 2025"),
			want: time.Date(2024, 12, 31, 16, 0, 0, 0, time.UTC)},
		// The as-of is 20:00 on June 30 in New York: July starts four hours later.
		{name: "the month changes at the next month's start", rules: wakeRules("timezone: America/New_York", "month(as_of) == 12"),
			want: time.Date(2024, 7, 1, 0, 0, 0, 0, ny)},
		{name: "days until a time", rules: wakeRules("", "days_between(as_of, renew_at) <= 14"),
			c: in{facts: map[string]any{"renew_at": at.Add(30 * day)}}, want: at.Add(15*day + 1)},
		{name: "a range with constant bounds is two comparisons", rules: wakeRules("", "days_since(seen_at) in 10..20"),
			c: in{facts: map[string]any{"seen_at": at.Add(-12 * day)}}, want: at.Add(9 * day)},
		{name: "a list of days wakes every run", rules: wakeRules("", "days_since(seen_at) in [7, 14, 30]"),
			c: in{facts: map[string]any{"seen_at": at.Add(-12 * day)}}, want: at},
		{name: "two measures compared wake every run", rules: wakeRules("", "days_since(seen_at) > days_since(renew_at)"),
			c: in{facts: map[string]any{"seen_at": at.Add(-12 * day), "renew_at": at}}, want: at},
		{name: "a measure from a value that reads the as-of wakes every run", rules: wakeRules("", "days_between(coalesce(seen_at, as_of), as_of) > 3"),
			c: in{facts: map[string]any{"seen_at": at.Add(-1 * day)}}, want: at},
		{name: "a measure in a let wakes every run", rules: wakeRules("", "let d = days_since(seen_at); d > 3"),
			c: in{facts: map[string]any{"seen_at": at.Add(-1 * day)}}, want: at},
		{name: "a function of a measure wakes every run", rules: wakeRules("", "abs(days_between(as_of, renew_at)) < 5"),
			c: in{facts: map[string]any{"renew_at": at.Add(30 * day)}}, want: at},
		{name: "a date before the as-of date", rules: wakeRules("timezone: Asia/Shanghai", "joined_on < date(as_of)"),
			c: in{facts: map[string]any{"joined_on": "2024-07-03"}}, want: time.Date(2024, 7, 3, 16, 0, 0, 0, time.UTC)},
		{name: "months between a date and the as-of date", rules: wakeRules("", "months_between(joined_on, date(as_of)) >= 2"),
			c: in{facts: map[string]any{"joined_on": "2024-05-31"}}, want: time.Date(2024, 7, 31, 0, 0, 0, 0, time.UTC)},
		{name: "a measure the condition does not reach", rules: wakeRules("", `spend > 100 && string(as_of) != ""`),
			c: in{facts: map[string]any{"spend": 1}}, want: time.Time{}},
		{name: "a rule error wakes every run", rules: wakeRules("", "score > 10"), c: in{facts: map[string]any{"score": nil}}, want: at},
	}
	runWakeCases(t, cases)
}

func runWakeCases(t *testing.T, cases []wakeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := compile(t, tc.rules)
			c := customer(t, rs, "c1", tc.c)
			c.State.Outcomes, c.State.Contacts = tc.outcomes, tc.contacts
			asOf := tc.asOf
			if asOf.IsZero() {
				asOf = retailAsOf
			}
			res := engine.New(rs).Evaluate(asOf, c)
			if !res.Wake.Equal(tc.want) {
				t.Errorf("Wake = %s, want %s (%s)", show(res.Wake, asOf), show(tc.want, asOf), describe(res))
			}
			// Explain evaluates rule by rule and must agree.
			if tr := engine.New(rs).Explain(asOf, c); !tr.Result.Wake.Equal(res.Wake) {
				t.Errorf("Explain's Wake = %s, Evaluate's %s", show(tr.Result.Wake, asOf), show(res.Wake, asOf))
			}
		})
	}
}

func show(w, asOf time.Time) string {
	switch {
	case w.IsZero():
		return never
	case !w.After(asOf):
		return "every run"
	}
	return w.UTC().Format(time.RFC3339Nano)
}
