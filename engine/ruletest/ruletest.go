// Package ruletest runs the test cases a rule set carries and measures
// which rules they exercise.
package ruletest

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// CaseResult is the outcome of one test case.
type CaseResult struct {
	Case *rules.TestCase
	// Failures says what differed from the expectation; empty means pass.
	Failures []string
	// Trace explains the evaluation, for showing failures.
	Trace *engine.Trace
	// Params are the params the evaluated rules read, with their values
	// (ParamsRead); set for a failing case only.
	Params []ParamValue
}

// Passed reports whether the case met its expectation.
func (c *CaseResult) Passed() bool { return len(c.Failures) == 0 }

// RuleCoverage counts the cases in which one rule matched.
type RuleCoverage struct {
	// Rule is "SEGMENTATION.SEGMENT" or "actions.NAME".
	Rule    string
	Matched int
}

// Report is the outcome of a rule set's tests.
type Report struct {
	RuleSet *rules.RuleSet
	Cases   []CaseResult
	// Coverage lists every segment and action with the number of cases
	// that matched it, in file order.
	Coverage []RuleCoverage
}

// Failed counts the failing cases.
func (r *Report) Failed() int {
	n := 0
	for i := range r.Cases {
		if !r.Cases[i].Passed() {
			n++
		}
	}
	return n
}

// CoveragePercent is the share of rules some case matched, 0 to 100.
func (r *Report) CoveragePercent() float64 {
	if len(r.Coverage) == 0 {
		return 100
	}
	return float64(len(r.Coverage)-len(r.Uncovered())) * 100 / float64(len(r.Coverage))
}

// Uncovered lists the rules no case matched.
func (r *Report) Uncovered() []string {
	var out []string
	for _, c := range r.Coverage {
		if c.Matched == 0 {
			out = append(out, c.Rule)
		}
	}
	return out
}

// Customer builds the engine input a test case describes. A case with
// Absent set is a customer who left the facts source: its facts are all
// null and engine.Customer.Absent is set. The customer's key is the
// case's Key, or "test:" and the case's name when it gives none; its
// follow-up history holds the case's Outcomes and Contacts.
func Customer(rs *rules.RuleSet, tc *rules.TestCase) (*engine.Customer, error) {
	var row []any
	if tc.Absent {
		if len(tc.Facts) > 0 {
			return nil, fmt.Errorf("an absent customer has no facts; remove facts from test case %q", tc.Name)
		}
		row = make([]any, len(rs.Facts.Fields))
	} else {
		var err error
		if row, err = rs.Facts.Row(tc.Facts); err != nil {
			return nil, err
		}
	}
	key := tc.Key
	if key == "" {
		key = "test:" + tc.Name
	}
	c := &engine.Customer{Key: key, Facts: row, Absent: tc.Absent}
	c.State.Segments = make([]engine.Assignment, len(rs.Segmentations))
	for name, p := range tc.Previous {
		if _, i := rs.Segmentation(name); i >= 0 {
			c.State.Segments[i] = engine.Assignment{Segment: p.Segment, Since: p.Since, PendingSince: p.PendingSince}
		}
	}
	c.State.LastActions = make([]time.Time, len(rs.Actions))
	for name, t := range tc.LastActions {
		if _, i := rs.Action(name); i >= 0 {
			c.State.LastActions[i] = t
		}
	}
	for _, o := range tc.Outcomes {
		if _, i := rs.Action(o.Action); i >= 0 {
			c.State.Outcomes = append(c.State.Outcomes, engine.ActionOutcome{Action: i, Outcome: o.Outcome, At: o.At})
		}
	}
	for _, ct := range tc.Contacts {
		if _, i := rs.Action(ct.Action); i >= 0 {
			c.State.Contacts = append(c.State.Contacts, engine.Contact{Action: i, At: ct.At})
		}
	}
	return c, nil
}

// Run evaluates every test case of rs.
func Run(rs *rules.RuleSet) *Report {
	e := engine.New(rs)
	rep := &Report{RuleSet: rs}
	matched := map[string]int{}
	for _, tc := range rs.Tests {
		cr := CaseResult{Case: tc}
		c, err := Customer(rs, tc)
		if err != nil {
			cr.Failures = append(cr.Failures, err.Error())
			rep.Cases = append(rep.Cases, cr)
			continue
		}
		tr := e.Explain(tc.AsOf, c)
		cr.Trace = tr
		cr.Failures = compare(rs, tc, tr)
		if !cr.Passed() {
			cr.Params = ParamsRead(rs, tr)
		}
		for _, st := range tr.Segmentations {
			if st.Decision.Matched != "" {
				matched[st.Name+"."+st.Decision.Matched]++
			}
		}
		for _, at := range tr.Actions {
			// A withheld action's condition held too.
			switch at.Outcome {
			case engine.OutcomeFired, engine.OutcomeCooldown, engine.OutcomeHeldOut, engine.OutcomeSuppressed:
				matched["actions."+at.Name]++
			}
		}
		rep.Cases = append(rep.Cases, cr)
	}
	for _, s := range rs.Segmentations {
		for _, seg := range s.Segments {
			key := s.Name + "." + seg.Name
			rep.Coverage = append(rep.Coverage, RuleCoverage{Rule: key, Matched: matched[key]})
		}
	}
	for _, a := range rs.Actions {
		key := "actions." + a.Name
		rep.Coverage = append(rep.Coverage, RuleCoverage{Rule: key, Matched: matched[key]})
	}
	return rep
}

func compare(rs *rules.RuleSet, tc *rules.TestCase, tr *engine.Trace) []string {
	res := tr.Result
	var fails []string
	for _, e := range res.Errors {
		fails = append(fails, fmt.Sprintf("rule error in %s: %s", e.Rule, e.Message()))
	}
	for _, name := range sortedKeys(tc.Expect.Segments) {
		want := tc.Expect.Segments[name]
		_, i := rs.Segmentation(name)
		d := res.Segments[i]
		if d.Segment != want {
			msg := fmt.Sprintf("%s: expected %s, got %s", name, orNoSegment(want), orNoSegment(d.Segment))
			if d.Matched != d.Segment && d.Matched != "" {
				msg += fmt.Sprintf(" (%s matched, kept by %s)", d.Matched, d.Reason)
			}
			fails = append(fails, msg)
		}
	}
	if tc.Expect.ActionsSet {
		fails = append(fails, compareActions(tc.Expect.Actions, res)...)
	}
	if tc.Expect.Suppressed != nil {
		fails = append(fails, compareWithheld(engine.Suppressed, tc.Expect.Suppressed, tr)...)
	}
	if tc.Expect.HeldOut != nil {
		fails = append(fails, compareWithheld(engine.HeldOut, tc.Expect.HeldOut, tr)...)
	}
	fails = append(fails, compareCoverage(rs, tc.Expect.Coverage, tr)...)
	return fails
}

func orNoSegment(name string) string {
	if name == "" {
		return "no segment"
	}
	return name
}

func compareActions(want []rules.ExpectedAction, res *engine.Result) []string {
	var fails []string
	gotBy := map[string]engine.QueuedAction{}
	for _, q := range res.Actions {
		gotBy[q.Name] = q
	}
	wantBy := map[string]bool{}
	for _, w := range want {
		wantBy[w.Name] = true
		q, ok := gotBy[w.Name]
		if !ok {
			msg := fmt.Sprintf("expected action %s, but it was not queued", w.Name)
			if wa := withheld(res, w.Name); wa != nil {
				msg += fmt.Sprintf(": it was %s (%s)", statusWords(wa.Status), wa.Reason)
			}
			fails = append(fails, msg)
			continue
		}
		for _, k := range sortedKeys(w.Payload) {
			if !sameValue(w.Payload[k], q.Payload[k]) {
				fails = append(fails, fmt.Sprintf("action %s: payload %s: expected %v, got %v", w.Name, k, w.Payload[k], q.Payload[k]))
			}
		}
	}
	var extra []string
	for _, q := range res.Actions {
		if !wantBy[q.Name] {
			extra = append(extra, q.Name)
		}
	}
	if len(extra) > 0 {
		fails = append(fails, "unexpected action(s) queued: "+strings.Join(extra, ", "))
	}
	return fails
}

func sameValue(want, got any) bool {
	wf, wok := number(want)
	gf, gok := number(got)
	if wok && gok {
		return wf == gf
	}
	return fmt.Sprint(want) == fmt.Sprint(got)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
