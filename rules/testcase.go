package rules

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	testKeys     = []string{"name", "as_of", "key", "absent", "facts", "previous", "last_actions", "outcomes", "contacts", "expect"}
	expectKeys   = []string{"segments", "actions", "suppressed", "held_out", "coverage"}
	previousKeys = []string{"segment", "since", "pending_since"}
)

// TestFileSuffix marks a file of test cases for the rule file of the same
// base name: retail_test.yaml holds tests for retail.yaml.
const TestFileSuffix = "_test"

// tests decodes a list of test cases, checking names against the rule set.
func (l *loader) tests(n *yaml.Node, rs *RuleSet, field string) []*TestCase {
	items := l.seq(n, field)
	if len(items) > MaxTestCases {
		l.errorf(n, field, "", "%d test cases; the limit is %d", len(items), MaxTestCases)
		return nil
	}
	var out []*TestCase
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		m := l.mapping(item, f, testKeys...)
		tc := &TestCase{Pos: l.pos(item)}
		if nn := l.required(m, item, f, "name", "e.g. name: big spender becomes vip"); nn != nil {
			tc.Name = l.str(nn, join(f, "name"))
			f = fmt.Sprintf("%s[%q]", field, tc.Name)
		}
		if nn := l.required(m, item, f, "as_of", "e.g. as_of: 2024-06-30"); nn != nil {
			tc.AsOf = l.instant(nn, join(f, "as_of"), rs)
		}
		if nn := m["key"]; nn != nil && !isNull(nn) {
			tc.Key = l.str(nn, join(f, "key"))
		}
		if nn := m["absent"]; nn != nil {
			tc.Absent = l.testAbsent(nn, m["facts"], rs, join(f, "absent"))
		}
		tc.Facts = l.testFacts(m["facts"], rs, join(f, "facts"))
		tc.Previous = l.testPrevious(m["previous"], rs, join(f, "previous"))
		tc.LastActions = map[string]time.Time{}
		for _, p := range l.pairs(m["last_actions"], join(f, "last_actions")) {
			if l.actionName(p.KeyN, rs, join(f, "last_actions")) {
				tc.LastActions[p.Key] = l.instant(p.Value, join(f, "last_actions."+p.Key), rs)
			}
		}
		tc.Outcomes = l.testOutcomes(m["outcomes"], rs, join(f, "outcomes"))
		tc.Contacts = l.testContacts(m["contacts"], rs, join(f, "contacts"))
		if nn := l.required(m, item, f, "expect", "e.g. expect: {segments: {value_tier: vip}, actions: []}"); nn != nil {
			tc.Expect = l.expectation(nn, rs, join(f, "expect"))
		}
		out = append(out, tc)
	}
	return out
}

// testAbsent decodes a case's absent flag: a customer who left the facts
// source, which only a rule set with on_missing: exit has, and which has
// no facts.
func (l *loader) testAbsent(n, facts *yaml.Node, rs *RuleSet, field string) bool {
	absent := l.boolean(n, field)
	if !absent {
		return false
	}
	if !rs.Exits() {
		l.errorf(n, field, `add "on_missing: exit" at the top of the rule file, or remove absent`,
			"a test customer can be absent only when the rule set says on_missing: exit; with on_missing: %s absent customers keep their segments", rs.OnMissing)
	}
	if facts != nil && !isNull(facts) {
		l.errorf(facts, join(strings.TrimSuffix(field, ".absent"), "facts"), "remove facts: an absent customer's facts are all null",
			"an absent customer has no facts")
	}
	return true
}

func (l *loader) testFacts(n *yaml.Node, rs *RuleSet, field string) map[string]any {
	facts := map[string]any{}
	for _, p := range l.pairs(n, field) {
		f, _, ok := rs.Facts.Lookup(p.Key)
		if !ok {
			hint := nearOrOneOf(p.Key, rs.Facts.Names())
			l.errorf(p.KeyN, join(field, p.Key), hint, "unknown fact %q", p.Key)
			continue
		}
		var raw any
		if !isNull(p.Value) {
			if p.Value.Kind != yaml.ScalarNode {
				l.errorf(p.Value, join(field, p.Key), "", "a fact is a single value")
				continue
			}
			raw = p.Value.Value
			if p.Value.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
				_ = p.Value.Decode(&raw)
			}
		}
		v, err := f.Coerce(raw)
		if err != nil {
			l.errorf(p.Value, join(field, p.Key), "", "%v", err)
			continue
		}
		facts[p.Key] = v
	}
	return facts
}

func (l *loader) testPrevious(n *yaml.Node, rs *RuleSet, field string) map[string]PreviousSegment {
	out := map[string]PreviousSegment{}
	for _, p := range l.pairs(n, field) {
		f := join(field, p.Key)
		s := l.segmentationName(p.KeyN, rs, field)
		if s == nil {
			continue
		}
		var prev PreviousSegment
		segNode := p.Value
		if p.Value.Kind == yaml.MappingNode {
			m := l.mapping(p.Value, f, previousKeys...)
			segNode = l.required(m, p.Value, f, "segment", "e.g. segment: vip")
			if t := m["since"]; t != nil {
				prev.Since = l.instant(t, join(f, "since"), rs)
			}
			if t := m["pending_since"]; t != nil {
				prev.PendingSince = l.instant(t, join(f, "pending_since"), rs)
			}
		}
		if segNode == nil {
			continue
		}
		prev.Segment = l.str(segNode, f)
		if prev.Segment != "" && s.SegmentIndex(prev.Segment) < 0 {
			l.errorf(segNode, f, nearOrOneOf(prev.Segment, segmentNames(s)), "segmentation %q has no segment %q", s.Name, prev.Segment)
			continue
		}
		out[p.Key] = prev
	}
	return out
}

func (l *loader) segmentationName(n *yaml.Node, rs *RuleSet, field string) *Segmentation {
	s, _ := rs.Segmentation(n.Value)
	if s == nil {
		names := make([]string, len(rs.Segmentations))
		for i, x := range rs.Segmentations {
			names[i] = x.Name
		}
		l.errorf(n, join(field, n.Value), nearOrOneOf(n.Value, names), "unknown segmentation %q", n.Value)
	}
	return s
}

func (l *loader) actionName(n *yaml.Node, rs *RuleSet, field string) bool {
	if a, _ := rs.Action(n.Value); a != nil {
		return true
	}
	l.errorf(n, join(field, n.Value), actionHint(n.Value, rs), "unknown action %q", n.Value)
	return false
}

// actionHint suggests an action for the unknown name.
func actionHint(name string, rs *RuleSet) string {
	names := make([]string, len(rs.Actions))
	for i, a := range rs.Actions {
		names[i] = a.Name
	}
	if len(names) == 0 {
		return "the rule set has no actions"
	}
	return nearOrOneOf(name, names)
}

func (l *loader) expectation(n *yaml.Node, rs *RuleSet, field string) Expectation {
	var e Expectation
	m := l.mapping(n, field, expectKeys...)
	if sn := m["segments"]; sn != nil {
		e.Segments = map[string]string{}
		for _, p := range l.pairs(sn, join(field, "segments")) {
			s := l.segmentationName(p.KeyN, rs, join(field, "segments"))
			if s == nil {
				continue
			}
			var name string
			if !isNull(p.Value) {
				name = l.str(p.Value, join(field, "segments."+p.Key))
			}
			if name != "" && s.SegmentIndex(name) < 0 {
				l.errorf(p.Value, join(field, "segments."+p.Key), nearOrOneOf(name, segmentNames(s)), "segmentation %q has no segment %q", s.Name, name)
				continue
			}
			e.Segments[p.Key] = name
		}
	}
	if an, ok := m["actions"]; ok {
		e.ActionsSet = true
		e.Actions = []ExpectedAction{}
		for i, item := range l.seq(an, join(field, "actions")) {
			f := fmt.Sprintf("%s.actions[%d]", field, i)
			var ea ExpectedAction
			nameNode := item
			if item.Kind == yaml.MappingNode {
				am := l.mapping(item, f, "name", "payload")
				nameNode = l.required(am, item, f, "name", "e.g. name: winback_call")
				if pn := am["payload"]; pn != nil {
					ea.Payload = map[string]any{}
					for _, p := range l.pairs(pn, join(f, "payload")) {
						if v, ok := l.paramValue(p.Value, join(f, "payload."+p.Key)); ok {
							ea.Payload[p.Key] = v
						}
					}
				}
			}
			if nameNode == nil || !l.actionName(nameNode, rs, f) {
				continue
			}
			ea.Name = nameNode.Value
			e.Actions = append(e.Actions, ea)
		}
	}
	if sn, ok := m["suppressed"]; ok {
		e.Suppressed = l.expectWithheld(sn, rs, join(field, "suppressed"))
	}
	if hn, ok := m["held_out"]; ok {
		e.HeldOut = l.expectWithheld(hn, rs, join(field, "held_out"))
	}
	if cn := m["coverage"]; cn != nil {
		e.Coverage = l.expectCoverage(cn, rs, join(field, "coverage"))
	}
	return e
}

// loadTestFile adds the cases of a sibling test file.
func loadTestFile(parent *loader, ts *TestSource, rs *RuleSet) []*TestCase {
	l := &loader{file: ts.File, src: ts.Src}
	defer func() { parent.diags = append(parent.diags, l.diags...) }()
	root := l.parseYAML(ts.Src)
	if root == nil {
		return nil
	}
	m := l.mapping(root, "", "ruleset", "tests")
	if n := m["ruleset"]; n != nil && n.Value != rs.Name {
		l.errorf(n, "ruleset", fmt.Sprintf("this file sits beside rule set %q", rs.Name), "test file names rule set %q", n.Value)
	}
	return l.tests(l.required(m, root, "", "tests", "list test cases under tests:"), rs, "tests")
}
