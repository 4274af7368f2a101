package rules

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// rawSegmentation keeps the YAML nodes of a segmentation between parsing
// its structure and compiling its conditions, which needs every
// segmentation's name first.
type rawSegmentation struct {
	seg      *Segmentation
	node     *yaml.Node
	field    string
	segments []rawSegment
}

type rawSegment struct {
	seg   *Segment
	when  *yaml.Node
	node  *yaml.Node
	field string
	// coverage is the segment's coverage: node, resolved once the
	// actions are known (see followUp).
	coverage *yaml.Node
	// src is the compiled condition's canonical text, for lint.
	compiled *compiled
}

type rawAction struct {
	act      *Action
	node     *yaml.Node
	field    string
	when     *yaml.Node
	payload  []pair
	compiled *compiled
}

var (
	segmentationKeys = []string{"name", "label", "description", "segments"}
	segmentKeys      = []string{"name", "label", "description", "when", "fallback", "min_stay", "downgrade_grace", "coverage"}
	actionKeys       = []string{"name", "label", "description", "when", "cooldown", "delay", "priority", "deliver_to", "payload",
		"channel", "holdout", "holdout_salt", "cost", "outcomes"}
)

// itemField names list item i by its name when it has a valid one.
func itemField(list string, i int, item *yaml.Node) string {
	if item != nil && item.Kind == yaml.MappingNode {
		for k := 0; k+1 < len(item.Content); k += 2 {
			if key, v := item.Content[k], item.Content[k+1]; key.Value == "name" && v.Kind == yaml.ScalarNode && validName(v.Value) {
				return list + "." + v.Value
			}
		}
	}
	return fmt.Sprintf("%s[%d]", list, i)
}

func (l *loader) segmentations(n *yaml.Node) []*rawSegmentation {
	items := l.seq(n, "segmentations")
	if len(items) > MaxSegmentations {
		l.errorf(n, "segmentations", "", "%d segmentations; the limit is %d", len(items), MaxSegmentations)
		return nil
	}
	var out []*rawSegmentation
	seen := map[string]int{}
	for i, item := range items {
		field := itemField("segmentations", i, item)
		m := l.mapping(item, field, segmentationKeys...)
		seg := &Segmentation{Pos: l.pos(item), index: map[string]int{}, Fallback: -1}
		if nn := l.required(m, item, field, "name", "e.g. name: value_tier"); nn != nil {
			seg.Name = l.name(nn, join(field, "name"))
		}
		if seg.Name != "" {
			if line, dup := seen[seg.Name]; dup {
				l.errorf(m["name"], join(field, "name"), fmt.Sprintf("the first is on line %d", line), "segmentation %q is defined twice", seg.Name)
				continue
			}
			seen[seg.Name] = item.Line
		}
		seg.Label = l.str(m["label"], join(field, "label"))
		raw := &rawSegmentation{seg: seg, node: item, field: field}
		raw.segments = l.segments(raw, l.required(m, item, field, "segments", "list the segments, highest rank first, ending with a fallback"))
		out = append(out, raw)
	}
	return out
}

func (l *loader) segments(raw *rawSegmentation, n *yaml.Node) []rawSegment {
	seg := raw.seg
	listField := join(raw.field, "segments")
	items := l.seq(n, listField)
	if n != nil && len(items) == 0 {
		l.errorf(n, listField, "add at least a fallback segment", "segmentation has no segments")
		return nil
	}
	if len(items) > MaxSegments {
		l.errorf(n, listField, "", "%d segments; the limit is %d", len(items), MaxSegments)
		return nil
	}
	var out []rawSegment
	for i, item := range items {
		field := itemField(listField, i, item)
		m := l.mapping(item, field, segmentKeys...)
		s := &Segment{Rank: len(out) + 1, Pos: l.pos(item)}
		if nn := l.required(m, item, field, "name", "e.g. name: vip"); nn != nil {
			s.Name = l.name(nn, join(field, "name"))
		}
		if first, dup := seg.index[s.Name]; dup && s.Name != "" {
			l.errorf(m["name"], join(field, "name"), fmt.Sprintf("the first is on line %d", seg.Segments[first].Pos.Line), "segment %q is defined twice in %s", s.Name, seg.Name)
			continue
		}
		s.Label = l.str(m["label"], join(field, "label"))
		if fb := m["fallback"]; fb != nil {
			s.Fallback = l.boolean(fb, join(field, "fallback"))
		}
		if d := m["min_stay"]; d != nil {
			s.MinStay = l.duration(d, join(field, "min_stay"))
		}
		if d := m["downgrade_grace"]; d != nil {
			s.DowngradeGrace = l.duration(d, join(field, "downgrade_grace"))
		}
		cov := m["coverage"]
		if cov != nil {
			// Declared now, for overdue() and days_since_covered();
			// decoded by followUp.
			s.Coverage = &Coverage{Pos: l.pos(cov)}
		}
		when := m["when"]
		if s.Fallback && when != nil {
			l.errorf(when, join(field, "when"), "remove when: the fallback takes every customer no earlier segment matched", "the fallback segment cannot have a condition")
			when = nil
		}
		switch {
		case s.Fallback && seg.Fallback >= 0:
			l.errorf(m["fallback"], join(field, "fallback"), fmt.Sprintf("%q is already the fallback", seg.Segments[seg.Fallback].Name), "a segmentation has exactly one fallback segment")
		case s.Fallback:
			seg.Fallback = len(out)
		case when == nil:
			l.errorf(item, join(field, "when"), "give a condition, or mark the segment `fallback: true`", "segment has no condition")
		}
		if s.Name != "" {
			seg.index[s.Name] = len(out)
		}
		seg.Segments = append(seg.Segments, s)
		out = append(out, rawSegment{seg: s, when: when, node: item, field: field, coverage: cov})
	}
	if len(out) > 0 && seg.Fallback < 0 {
		l.errorf(n, listField, "add a last segment with `fallback: true` for customers no condition matches", "segmentation %q has no fallback segment", seg.Name)
	}
	if seg.Fallback >= 0 && seg.Fallback != len(out)-1 {
		l.errorf(out[seg.Fallback].node, out[seg.Fallback].field, "move it to the end of the list", "the fallback segment must be the last one: segments after it could never match")
	}
	return out
}

func (l *loader) compileSegmentations(c *exprCompiler, raws []*rawSegmentation) {
	for _, raw := range raws {
		for i := range raw.segments {
			rs := &raw.segments[i]
			if rs.when == nil {
				continue
			}
			cp := c.compile(rs.when, join(rs.field, "when"), kindCondition)
			if cp == nil {
				continue
			}
			rs.compiled = cp
			rs.seg.When = cp.expr
			for _, at := range cp.leftAt {
				l.report(SeverityError, at, join(rs.field, "when"),
					`to test a move out of a segment, write left("SEGMENTATION", "SEGMENT"); left("SEGMENTATION") belongs in an action's condition`,
					"left(\"SEGMENTATION\") cannot be used in a segment's condition: a customer who left the facts source is not evaluated against segments")
			}
			for _, call := range cp.coverageAt {
				l.report(SeverityError, call.pos, join(rs.field, "when"),
					"use it in an action's when: or payload, which are evaluated after every segment is decided",
					"%s(%q) cannot be used in a segment's condition: it reads the coverage of the segment the customer is in after the run", call.fn, call.segmentation)
			}
			for _, ref := range cp.newRefs {
				if ref == raw.seg.Name {
					l.errorf(rs.when, join(rs.field, "when"), fmt.Sprintf("read previous.%s or days_in_previous(%q) instead", ref, ref), "a segment's condition cannot read the new segment of its own segmentation %q", ref)
					continue
				}
				if !contains(raw.seg.DependsOn, ref) {
					raw.seg.DependsOn = append(raw.seg.DependsOn, ref)
				}
			}
		}
	}
}

func (l *loader) actions(n *yaml.Node) []*rawAction {
	items := l.seq(n, "actions")
	if len(items) > MaxActions {
		l.errorf(n, "actions", "", "%d actions; the limit is %d", len(items), MaxActions)
		return nil
	}
	var out []*rawAction
	seen := map[string]int{}
	for i, item := range items {
		field := itemField("actions", i, item)
		m := l.mapping(item, field, actionKeys...)
		a := &Action{Pos: l.pos(item)}
		if nn := l.required(m, item, field, "name", "e.g. name: winback_call"); nn != nil {
			a.Name = l.name(nn, join(field, "name"))
		}
		if a.Name != "" {
			if line, dup := seen[a.Name]; dup {
				l.errorf(m["name"], join(field, "name"), fmt.Sprintf("the first is on line %d", line), "action %q is defined twice", a.Name)
				continue
			}
			seen[a.Name] = item.Line
		}
		a.Label = l.str(m["label"], join(field, "label"))
		if d := m["cooldown"]; d != nil {
			a.Cooldown = l.duration(d, join(field, "cooldown"))
		}
		if d := m["delay"]; d != nil {
			a.Delay = l.duration(d, join(field, "delay"))
		}
		if p := m["priority"]; p != nil {
			a.Priority = l.integer(p, join(field, "priority"))
		}
		l.actionFollowUp(a, m, field)
		if d := m["deliver_to"]; d != nil {
			a.DeliverTo = l.str(d, join(field, "deliver_to"))
			if !validName(a.DeliverTo) {
				l.errorf(d, join(field, "deliver_to"), "name a destination declared under destinations: in tierflow.yaml, in lower-case letters, digits and _", "%q is not a destination name", a.DeliverTo)
			}
		}
		ra := &rawAction{act: a, node: item, field: field, when: l.required(m, item, field, "when", "e.g. when: entered(\"lifecycle\", \"at_risk\")")}
		ra.payload = l.pairs(m["payload"], join(field, "payload"))
		if len(ra.payload) > MaxPayloadFields {
			l.errorf(m["payload"], join(field, "payload"), "", "%d payload fields; the limit is %d", len(ra.payload), MaxPayloadFields)
			ra.payload = nil
		}
		out = append(out, ra)
	}
	return out
}

func (l *loader) compileActions(c *exprCompiler, raws []*rawAction, onMissing OnMissing) []*Action {
	out := make([]*Action, 0, len(raws))
	for _, ra := range raws {
		if ra.when != nil {
			field := join(ra.field, "when")
			if cp := c.compile(ra.when, field, kindCondition); cp != nil {
				ra.compiled = cp
				ra.act.When = cp.expr
				ra.act.CallsLeft = len(cp.leftAt) > 0
				l.checkLeft(cp, field, onMissing)
			}
		}
		for _, p := range ra.payload {
			field := join(ra.field, "payload."+p.Key)
			if !validName(p.Key) {
				l.errorf(p.KeyN, field, "use lower-case letters, digits and _", "%q is not a valid payload field name", p.Key)
				continue
			}
			if pf, cp, ok := l.payloadField(c, p, field); ok {
				ra.act.Payload = append(ra.act.Payload, pf)
				l.checkLeft(cp, field, onMissing)
			}
		}
		out = append(out, ra.act)
	}
	return out
}

// checkLeft reports each left("SEGMENTATION") call in an action's
// expression when the rule set keeps customers who leave the facts source,
// who then never leave.
func (l *loader) checkLeft(cp *compiled, field string, onMissing OnMissing) {
	if cp == nil || onMissing != OnMissingKeep {
		return
	}
	for _, at := range cp.leftAt {
		l.report(SeverityError, at, field,
			`add "on_missing: exit" at the top of the rule file, so that customers who leave the facts source leave their segments; or write left("SEGMENTATION", "SEGMENT") for a move out of a segment`,
			"left(\"SEGMENTATION\") needs on_missing: exit: with on_missing: %s a customer never leaves", onMissing)
	}
}

// payloadField compiles one payload entry: a value starting with "=" is an
// expression, anything else is a constant. The compiled expression is nil
// for a constant.
func (l *loader) payloadField(c *exprCompiler, p pair, field string) (PayloadField, *compiled, bool) {
	pf := PayloadField{Name: p.Key}
	if p.Value.Kind != yaml.ScalarNode {
		l.errorf(p.Value, field, "write a single value, or an expression starting with =", "payload values must be single values")
		return pf, nil, false
	}
	if src, isExpr := strings.CutPrefix(p.Value.Value, "="); isExpr && p.Value.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		cp := c.compileSource(p.Value, src, 1, field, kindValue)
		if cp == nil {
			return pf, nil, false
		}
		pf.Expr = cp.expr
		return pf, cp, true
	}
	v, ok := l.paramValue(p.Value, field)
	if !ok {
		return pf, nil, false
	}
	pf.Value = v
	return pf, nil, true
}
