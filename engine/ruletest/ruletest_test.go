package ruletest_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

func compile(t *testing.T, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("test.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return rs
}

// failing has one passing case and one case per kind of failure.
const failing = `
ruleset: failing
facts:
  spend: number
  prev_spend: number
segmentations:
  - name: tier
    segments:
      - name: gold
        when: spend >= 1000
        downgrade_grace: 30d
      - name: silver
        when: spend >= 100
      - name: bronze
        fallback: true
actions:
  - name: thanks
    when: entered("tier", "gold")
    payload:
      level: 1
      spend: =spend
  - name: growth
    when: spend == 107
    cooldown: 30d
    payload:
      pct: =pct_change(prev_spend, spend)
  - name: unused
    when: spend < 0
    cooldown: 1d
tests:
  - name: passes
    as_of: 2024-07-01
    facts: {spend: 2000}
    expect:
      segments: {tier: gold}
      actions: [{name: thanks, payload: {level: 1, spend: 2000}}]
  - name: held by grace
    as_of: 2024-07-01
    facts: {spend: 500}
    previous: {tier: {segment: gold, since: 2024-01-01}}
    expect: {segments: {tier: silver}}
  - name: wrong payload
    as_of: 2024-07-01
    facts: {spend: 2000}
    expect:
      actions: [{name: thanks, payload: {level: 2, spend: 2000}}]
  - name: unexpected action
    as_of: 2024-07-01
    facts: {spend: 2000}
    expect: {actions: []}
  - name: missing action
    as_of: 2024-07-01
    facts: {spend: 2000}
    previous: {tier: gold}
    expect: {actions: [thanks]}
  - name: rule error
    as_of: 2024-07-01
    facts: {spend: 107}
    expect: {segments: {tier: silver}, actions: []}
`

func TestRunFailures(t *testing.T) {
	rep := ruletest.Run(compile(t, failing))
	want := map[string][]string{
		"passes":            nil,
		"held by grace":     {"tier: expected silver, got gold (silver matched, kept by downgrade_grace)"},
		"wrong payload":     {"action thanks: payload level: expected 2, got 1"},
		"unexpected action": {"unexpected action(s) queued: thanks"},
		"missing action":    {"expected action thanks, but it was not queued"},
		"rule error":        {"rule error in actions.growth.payload.pct: pct_change: the old value is 0"},
	}
	if len(rep.Cases) != len(want) {
		t.Fatalf("%d cases, want %d", len(rep.Cases), len(want))
	}
	for _, cr := range rep.Cases {
		w := want[cr.Case.Name]
		if cr.Passed() != (len(w) == 0) {
			t.Errorf("%s: Passed() = %v with failures %q", cr.Case.Name, cr.Passed(), cr.Failures)
		}
		if len(cr.Failures) != len(w) {
			t.Errorf("%s: failures %q, want %q", cr.Case.Name, cr.Failures, w)
			continue
		}
		for i := range w {
			// Runtime errors carry expr's snippet after the first line.
			if got := cr.Failures[i]; !strings.HasPrefix(got, w[i]) {
				t.Errorf("%s: failure %q, want %q", cr.Case.Name, got, w[i])
			}
		}
		if cr.Trace == nil {
			t.Errorf("%s: no trace", cr.Case.Name)
		}
	}
	if got := rep.Failed(); got != 5 {
		t.Errorf("Failed() = %d, want 5", got)
	}
}

func TestRunCoverage(t *testing.T) {
	rep := ruletest.Run(compile(t, failing))
	want := []ruletest.RuleCoverage{
		{Rule: "tier.gold", Matched: 4},
		{Rule: "tier.silver", Matched: 2},
		{Rule: "tier.bronze", Matched: 0},
		{Rule: "actions.thanks", Matched: 3},
		// A payload error means the action did not fire.
		{Rule: "actions.growth", Matched: 0},
		{Rule: "actions.unused", Matched: 0},
	}
	if !slices.Equal(rep.Coverage, want) {
		t.Errorf("coverage\ngot  %v\nwant %v", rep.Coverage, want)
	}
	if got := rep.CoveragePercent(); got != 50 {
		t.Errorf("CoveragePercent() = %v, want 50", got)
	}
	if got, want := rep.Uncovered(), []string{"tier.bronze", "actions.growth", "actions.unused"}; !slices.Equal(got, want) {
		t.Errorf("Uncovered() = %v, want %v", got, want)
	}
}

// An action held back by its cooldown still counts as covered: its
// condition matched.
func TestCoverageCountsCooldown(t *testing.T) {
	rep := ruletest.Run(compile(t, `
ruleset: cool
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: call
    when: spend >= 100
    cooldown: 30d
tests:
  - name: big in cooldown
    as_of: 2024-07-01
    facts: {spend: 500}
    last_actions: {call: 2024-06-20}
    expect: {segments: {tier: big}, actions: []}
  - name: small
    as_of: 2024-07-01
    facts: {spend: 5}
    expect: {segments: {tier: small}, actions: []}
`))
	if rep.Failed() != 0 {
		t.Fatalf("failures: %+v", rep.Cases)
	}
	if got := rep.CoveragePercent(); got != 100 {
		t.Errorf("CoveragePercent() = %v, want 100 (coverage %v)", got, rep.Coverage)
	}
	if got := rep.Uncovered(); got != nil {
		t.Errorf("Uncovered() = %v", got)
	}
}

// A case naming a fact the schema lacks fails by itself, with the
// schema's suggestion, and the other cases still run.
func TestUnknownFact(t *testing.T) {
	rs := compile(t, failing)
	rs.Tests = append(rs.Tests[:1:1], &rules.TestCase{
		Name: "typo",
		AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC),
		// Row rejects names the schema lacks; the compiler would have
		// caught this in a file, so build the case by hand.
		Facts: map[string]any{"spned": 2000},
	})
	if _, err := ruletest.Customer(rs, rs.Tests[1]); err == nil || !strings.Contains(err.Error(), `unknown fact "spned"`) {
		t.Errorf("Customer: err = %v", err)
	}
	rep := ruletest.Run(rs)
	if len(rep.Cases) != 2 || !rep.Cases[0].Passed() {
		t.Fatalf("cases: %+v", rep.Cases)
	}
	typo := rep.Cases[1]
	if len(typo.Failures) != 1 || !strings.HasPrefix(typo.Failures[0], `unknown fact "spned"`) || !strings.Contains(typo.Failures[0], "spend") {
		t.Errorf("failures = %q", typo.Failures)
	}
	if typo.Trace != nil {
		t.Errorf("a case that cannot run has a trace")
	}
	if rep.Failed() != 1 {
		t.Errorf("Failed() = %d", rep.Failed())
	}
}

func TestCustomer(t *testing.T) {
	rs := compile(t, failing)
	since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	pending := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2024, 6, 20, 0, 0, 0, 0, time.UTC)
	tc := &rules.TestCase{
		Name:        "built",
		Facts:       map[string]any{"spend": 12.5},
		Previous:    map[string]rules.PreviousSegment{"tier": {Segment: "gold", Since: since, PendingSince: pending}},
		LastActions: map[string]time.Time{"growth": last},
	}
	c, err := ruletest.Customer(rs, tc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "test:built" {
		t.Errorf("Key = %q", c.Key)
	}
	if !slices.Equal(c.Facts, []any{12.5, 0.0}) {
		t.Errorf("Facts = %v", c.Facts)
	}
	if want := []engine.Assignment{{Segment: "gold", Since: since, PendingSince: pending}}; !slices.Equal(c.State.Segments, want) {
		t.Errorf("Segments = %+v", c.State.Segments)
	}
	if want := []time.Time{{}, last, {}}; !slices.Equal(c.State.LastActions, want) {
		t.Errorf("LastActions = %v", c.State.LastActions)
	}
}

// The retail example's own tests pass and cover every rule.
func TestRetailExample(t *testing.T) {
	const file = "../../examples/retail/retail.yaml"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(rules.TestFileFor(file))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile(file, src, rules.Options{Tests: &rules.TestSource{File: rules.TestFileFor(file), Src: tests}})
	if err != nil {
		t.Fatal(err)
	}
	rep := ruletest.Run(rs)
	if len(rep.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, cr := range rep.Cases {
		if !cr.Passed() {
			t.Errorf("%s: %q", cr.Case.Name, cr.Failures)
		}
	}
	if got := rep.Uncovered(); got != nil {
		t.Errorf("uncovered: %v", got)
	}
}

// A test case can describe a customer who left the facts source, to test
// the actions that call left(); it expects no segment with ~.
func TestAbsentCase(t *testing.T) {
	rep := ruletest.Run(compile(t, `
ruleset: leaving
on_missing: exit
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: vip, when: spend >= 1000}
      - {name: regular, fallback: true}
actions:
  - name: farewell
    when: left("tier") && previous.tier == "vip"
    payload: {tier: =previous.tier}
  - name: thanks
    when: entered("tier", "vip")
tests:
  - name: a vip who leaves gets a farewell
    as_of: 2024-07-01
    absent: true
    previous: {tier: vip}
    expect:
      segments: {tier: ~}
      actions: [{name: farewell, payload: {tier: vip}}]
  - name: wrong expectation
    as_of: 2024-07-01
    absent: true
    previous: {tier: regular}
    expect: {segments: {tier: regular}, actions: [farewell]}
  - name: present
    as_of: 2024-07-01
    facts: {spend: 2000}
    expect: {segments: {tier: vip}, actions: [thanks]}
`))
	want := map[string][]string{
		"a vip who leaves gets a farewell": nil,
		"wrong expectation":                {"tier: expected regular, got no segment", "expected action farewell, but it was not queued"},
		"present":                          nil,
	}
	for _, cr := range rep.Cases {
		if w := want[cr.Case.Name]; !slices.Equal(cr.Failures, w) {
			t.Errorf("%s: failures %q, want %q", cr.Case.Name, cr.Failures, w)
		}
	}
	if got := rep.Uncovered(); !slices.Equal(got, []string{"tier.regular"}) {
		t.Errorf("uncovered = %v", got)
	}
	c, err := ruletest.Customer(rep.RuleSet, rep.RuleSet.Tests[0])
	if err != nil || !c.Absent || !slices.Equal(c.Facts, []any{nil}) || c.State.Segments[0].Segment != "vip" {
		t.Errorf("Customer = %+v, %v", c, err)
	}
	rep.RuleSet.Tests[0].Facts = map[string]any{"spend": 1.0}
	if _, err := ruletest.Customer(rep.RuleSet, rep.RuleSet.Tests[0]); err == nil || !strings.Contains(err.Error(), "an absent customer has no facts") {
		t.Errorf("absent with facts: err = %v", err)
	}
}
