package ruletest_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

// careRules limits each customer to one contact a week. visit (priority
// 1) goes to VIPs whose coverage is overdue, offer (priority 2) to every
// VIP except a 50% holdout, newsletter (priority 3) to everyone who
// spends; the tests follow.
const careRules = `
ruleset: care
limits:
  per_customer: 1 per 7d
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 1000
        coverage: {every: 28d, by: [visit], counts: [reached]}
      - name: regular
        fallback: true
actions:
  - name: visit
    when: overdue("tier")
    cooldown: 7d
    priority: 1
    outcomes: [reached, no_answer]
    payload: {days: '=days_since_covered("tier")'}
  - name: offer
    when: spend >= 1000
    cooldown: 30d
    priority: 2
    holdout: 50%
  - name: newsletter
    when: spend > 0
    cooldown: 1d
    priority: 3
tests:
`

// holdoutKeys returns a key in offer's holdout group and one outside it.
func holdoutKeys(t *testing.T) (out, in string) {
	t.Helper()
	for i := 0; out == "" || in == ""; i++ {
		key := fmt.Sprintf("C%03d", i)
		if rules.HoldoutBucket("care", "offer", "", key) < 5000 {
			out = firstKey(out, key)
		} else {
			in = firstKey(in, key)
		}
	}
	return out, in
}

func firstKey(have, key string) string {
	if have != "" {
		return have
	}
	return key
}

func TestFollowUpCases(t *testing.T) {
	out, in := holdoutKeys(t)
	rep := ruletest.Run(compile(t, careRules+fmt.Sprintf(`
  - name: an overdue VIP gets the visit; the rest is suppressed by priority
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    outcomes: [{action: visit, outcome: no_answer, at: 2024-06-20}]
    expect:
      actions: [{name: visit, payload: {days: -1}}]
      suppressed: [offer, newsletter]
      held_out: []
      coverage: {tier: overdue}
  - name: a covered VIP in the holdout gets no offer, and the newsletter takes the contact
    as_of: 2024-07-01
    key: %[1]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    outcomes: [{action: visit, outcome: reached, at: 2024-06-20}]
    expect:
      actions: [newsletter]
      held_out: [offer]
      suppressed: []
      coverage: {tier: covered}
  - name: a covered VIP outside the holdout gets the offer
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    outcomes: [{action: visit, outcome: reached, at: 2024-06-20}]
    expect: {actions: [offer], suppressed: [newsletter], coverage: {tier: covered}}
  - name: a visit in its cooldown is no contact
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    last_actions: {visit: 2024-06-28}
    expect: {actions: [offer], suppressed: [newsletter], coverage: {tier: overdue}}
  - name: a contact this week suppresses everything
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    outcomes: [{action: visit, outcome: reached, at: 2024-06-20}]
    last_actions: {newsletter: 2024-06-28}
    contacts: [{action: newsletter, at: 2024-06-28}]
    expect: {actions: [], suppressed: [offer, newsletter]}
  - name: suppressed last week, so no cooldown, the offer goes out
    as_of: 2024-07-06
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    outcomes: [{action: visit, outcome: reached, at: 2024-06-20}]
    last_actions: {newsletter: 2024-06-28}
    contacts: [{action: newsletter, at: 2024-06-28}]
    expect: {actions: [offer], suppressed: [newsletter], coverage: {tier: covered}}
  - name: a new VIP is pending
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    expect: {actions: [offer], coverage: {tier: pending}}
  - name: a regular customer has no target
    as_of: 2024-07-01
    facts: {spend: 10}
    expect: {actions: [newsletter], suppressed: [], held_out: [], coverage: {tier: none}}
`, out, in)))
	for _, cr := range rep.Cases {
		if !cr.Passed() {
			t.Errorf("%s: %q", cr.Case.Name, cr.Failures)
		}
	}
	if got := rep.Uncovered(); got != nil {
		t.Errorf("uncovered: %v", got)
	}
}

// Failed follow-up expectations say what was expected and what came out,
// with the reason of a withheld action.
func TestFollowUpFailures(t *testing.T) {
	out, in := holdoutKeys(t)
	bucket := rules.HoldoutBucket("care", "offer", "", out)
	heldOut := fmt.Sprintf("in the 50%% holdout group (bucket %d of 10000, below 5000)", bucket)
	const limit = "contact limit 1 per 7d reached (1 contact since 2024-06-24)"
	rep := ruletest.Run(compile(t, careRules+fmt.Sprintf(`
  - name: held out, not suppressed
    as_of: 2024-07-01
    key: %[1]s
    facts: {spend: 2000}
    expect: {actions: [offer], suppressed: [offer, newsletter], held_out: []}
  - name: queued, not withheld
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    expect: {held_out: [offer], suppressed: []}
  - name: did not fire
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    last_actions: {offer: 2024-06-20, visit: 2024-06-30}
    expect: {suppressed: [offer], coverage: {tier: covered}}
  - name: covered, not overdue
    as_of: 2024-07-01
    key: %[2]s
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    outcomes: [{action: visit, outcome: reached, at: 2024-06-28}]
    expect: {coverage: {tier: overdue}}
`, out, in)))
	want := map[string][]string{
		"held out, not suppressed": {
			"expected action offer, but it was not queued: it was held out (" + heldOut + ")",
			"unexpected action(s) queued: newsletter",
			"expected action offer to be suppressed, but it was held out (" + heldOut + ")",
			"expected action newsletter to be suppressed, but it was queued",
			"unexpected action(s) held out: offer (" + heldOut + ")",
		},
		"queued, not withheld": {
			"unexpected action(s) suppressed: newsletter (" + limit + ")",
			"expected action offer to be held out, but it was queued",
		},
		"did not fire": {
			"expected action offer to be suppressed, but it did not fire (cooldown: last queued 2024-06-20, not again before 2024-07-20)",
			"tier: expected coverage covered, got overdue (in vip, never covered)",
		},
		"covered, not overdue": {
			"tier: expected coverage overdue, got covered (in vip, last covered 3 days ago)",
		},
	}
	for _, cr := range rep.Cases {
		if w := want[cr.Case.Name]; !slices.Equal(cr.Failures, w) {
			t.Errorf("%s: failures\n  %q\nwant\n  %q", cr.Case.Name, cr.Failures, w)
		}
	}
}

// A case's key is the customer's, or "test:" and its name; its outcomes
// and contacts become the customer's follow-up history.
func TestCustomerFollowUp(t *testing.T) {
	rs := compile(t, careRules)
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	tc := &rules.TestCase{
		Name:     "history",
		Key:      "C042",
		Outcomes: []rules.TestOutcome{{Action: "visit", Outcome: "reached", At: at}},
		Contacts: []rules.TestContact{{Action: "newsletter", At: at}, {Action: "visit", At: at.Add(time.Hour)}},
	}
	c, err := ruletest.Customer(rs, tc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "C042" {
		t.Errorf("Key = %q", c.Key)
	}
	if want := []engine.ActionOutcome{{Action: 0, Outcome: "reached", At: at}}; !slices.Equal(c.State.Outcomes, want) {
		t.Errorf("Outcomes = %+v", c.State.Outcomes)
	}
	if want := []engine.Contact{{Action: 2, At: at}, {Action: 0, At: at.Add(time.Hour)}}; !slices.Equal(c.State.Contacts, want) {
		t.Errorf("Contacts = %+v", c.State.Contacts)
	}
	tc.Key = ""
	if c, _ := ruletest.Customer(rs, tc); c.Key != "test:history" {
		t.Errorf("Key without key: = %q, want test:history", c.Key)
	}
}

// A withheld action's condition held, so it counts toward rule coverage.
func TestWithheldCountsAsCovered(t *testing.T) {
	rep := ruletest.Run(compile(t, careRules+`
  - name: everything is withheld
    as_of: 2024-07-01
    facts: {spend: 2000}
    previous: {tier: {segment: vip, since: 2023-01-01}}
    contacts: [{action: visit, at: 2024-06-30}]
    expect: {actions: []}
  - name: regular
    as_of: 2024-07-01
    facts: {spend: 0}
    expect: {actions: []}
`))
	for _, cr := range rep.Cases {
		if !cr.Passed() {
			t.Errorf("%s: %q", cr.Case.Name, cr.Failures)
		}
	}
	if got := rep.Uncovered(); got != nil {
		t.Errorf("uncovered: %v", got)
	}
	if !strings.Contains(fmt.Sprint(rep.Cases[0].Trace.Actions[0].Outcome), "suppressed") {
		t.Errorf("visit outcome = %v", rep.Cases[0].Trace.Actions[0].Outcome)
	}
}

// The follow-up example of docs/rules.md compiles without warnings, and
// its tests pass and cover every rule.
func TestDocsFollowUpExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		if block, _, _ = strings.Cut(block, "```"); strings.HasPrefix(block, "ruleset: care\n") {
			src = block
			break
		}
	}
	if src == "" {
		t.Fatal("docs/rules.md lost its follow-up example (a yaml block starting with ruleset: care)")
	}
	rs := compile(t, src)
	if len(rs.Warnings) != 0 {
		t.Errorf("warnings:\n%v", rules.ErrorList(rs.Warnings))
	}
	rep := ruletest.Run(rs)
	if len(rep.Cases) != 6 {
		t.Errorf("%d cases, want 6", len(rep.Cases))
	}
	for _, cr := range rep.Cases {
		if !cr.Passed() {
			t.Errorf("%s: %q", cr.Case.Name, cr.Failures)
		}
	}
	if got := rep.Uncovered(); got != nil {
		t.Errorf("uncovered: %v", got)
	}
	// The documented bucket of the held-out key.
	if got := rules.HoldoutBucket("care", "winback_offer", "2024", "C019"); got != 26 || !strings.Contains(string(doc), "care winback_offer 2024 C019\n26\n") {
		t.Errorf("bucket of C019 = %d; the docs' Python example must print it", got)
	}
}
