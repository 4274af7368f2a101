package rules

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file decodes the follow-up keys of a test case: the outcomes and
// contacts of its customer's history, and the withheld actions and
// coverage states it expects.

var (
	testOutcomeKeys = []string{"action", "outcome", "at"}
	testContactKeys = []string{"action", "at"}
)

// coverageStates are the coverage states a test case can expect, as
// engine.CoverageState names them.
var coverageStates = []string{"covered", "pending", "overdue", "none"}

// testOutcomes decodes a case's `outcomes:`, follow-ups that ended.
func (l *loader) testOutcomes(n *yaml.Node, rs *RuleSet, field string) []TestOutcome {
	var out []TestOutcome
	for i, item := range l.seq(n, field) {
		f := fmt.Sprintf("%s[%d]", field, i)
		m, ok := l.historyItem(item, f, testOutcomeKeys)
		if !ok {
			continue
		}
		a, at, ok := l.historyAction(m, item, rs, f, "such as {action: vip_care_visit, outcome: reached, at: 2024-06-01}")
		on := l.required(m, item, f, "outcome", "such as outcome: reached")
		if on == nil {
			continue
		}
		outcome, isScalar := l.scalar(on, join(f, "outcome"))
		if !ok || !isScalar {
			continue
		}
		if !a.HasOutcome(outcome) {
			hint := fmt.Sprintf("%s declares no outcomes: add outcomes: [%s] to it", a.Name, outcome)
			if len(a.Outcomes) > 0 {
				hint = nearOrOneOf(outcome, a.Outcomes)
			}
			l.errorf(on, join(f, "outcome"), hint, "action %q has no outcome %q", a.Name, outcome)
			continue
		}
		out = append(out, TestOutcome{Action: a.Name, Outcome: outcome, At: at})
	}
	return out
}

// testContacts decodes a case's `contacts:`, actions queued before.
func (l *loader) testContacts(n *yaml.Node, rs *RuleSet, field string) []TestContact {
	var out []TestContact
	for i, item := range l.seq(n, field) {
		f := fmt.Sprintf("%s[%d]", field, i)
		m, ok := l.historyItem(item, f, testContactKeys)
		if !ok {
			continue
		}
		if a, at, ok := l.historyAction(m, item, rs, f, "such as {action: onboarding_message, at: 2024-06-28}"); ok {
			out = append(out, TestContact{Action: a.Name, At: at})
		}
	}
	return out
}

// historyItem decodes one mapping of outcomes: or contacts:.
func (l *loader) historyItem(item *yaml.Node, field string, keys []string) (map[string]*yaml.Node, bool) {
	if item.Kind != yaml.MappingNode {
		l.errorf(item, field, "write {"+strings.Join(keys, ": ..., ")+": ...}", "must be %s, not %s", kindNames[yaml.MappingNode], kindNames[item.Kind])
		return nil, false
	}
	return l.mapping(item, field, keys...), true
}

// historyAction decodes the action and at keys of one history item.
func (l *loader) historyAction(m map[string]*yaml.Node, item *yaml.Node, rs *RuleSet, field, example string) (*Action, time.Time, bool) {
	var a *Action
	var at time.Time
	if an := l.required(m, item, field, "action", example); an != nil {
		a = l.actionRef(an, rs, join(field, "action"))
	}
	if tn := l.required(m, item, field, "at", "such as at: 2024-06-01"); tn != nil {
		at = l.instant(tn, join(field, "at"), rs)
	} else {
		return nil, at, false
	}
	return a, at, a != nil
}

// actionRef returns the action n names, reporting an unknown one.
func (l *loader) actionRef(n *yaml.Node, rs *RuleSet, field string) *Action {
	name, ok := l.scalar(n, field)
	if !ok {
		return nil
	}
	a, _ := rs.Action(name)
	if a == nil {
		l.errorf(n, field, actionHint(name, rs), "unknown action %q", name)
	}
	return a
}

// expectWithheld decodes expect.suppressed or expect.held_out: action
// names, possibly none. An action can be held out only if it declares a
// holdout, and suppressed only if the rule set has limits.
func (l *loader) expectWithheld(n *yaml.Node, rs *RuleSet, field string) []string {
	out := []string{}
	heldOut := strings.HasSuffix(field, "held_out")
	for i, item := range l.seq(n, field) {
		f := fmt.Sprintf("%s[%d]", field, i)
		a := l.actionRef(item, rs, f)
		switch {
		case a == nil:
		case contains(out, a.Name):
			l.errorf(item, f, "list each action once", "action %q is listed twice", a.Name)
		case heldOut && a.Holdout.BasisPoints == 0:
			l.errorf(item, f, "add holdout: 10% to the action, or remove it from held_out", "action %q has no holdout, so it is never held out", a.Name)
		case !heldOut && rs.Limits == nil:
			l.errorf(item, f, "add limits: {per_customer: 2 per 7d} at the top of the rule file, or remove it from suppressed", "the rule set has no limits, so action %q is never suppressed", a.Name)
		default:
			out = append(out, a.Name)
		}
	}
	return out
}

// expectCoverage decodes expect.coverage: a coverage state per
// segmentation.
func (l *loader) expectCoverage(n *yaml.Node, rs *RuleSet, field string) map[string]string {
	out := map[string]string{}
	for _, p := range l.pairs(n, field) {
		s := l.segmentationName(p.KeyN, rs, field)
		f := join(field, p.Key)
		state, ok := l.scalar(p.Value, f)
		switch {
		case s == nil || !ok:
		case !contains(coverageStates, state):
			l.errorf(p.Value, f, nearOrOneOf(state, coverageStates), "unknown coverage state %q", state)
		case state != "none" && !hasCoverage(s):
			l.errorf(p.Value, f, "add coverage: to one of its segments, or expect none", "no segment of %q declares coverage, so its coverage is always none", s.Name)
		default:
			out[p.Key] = state
		}
	}
	return out
}
