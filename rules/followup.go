package rules

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file decodes the follow-up management keys of a rule file: the
// top-level limits: and churn:, an action's channel, holdout, cost and
// outcomes, and a segment's coverage target. References between them
// (coverage by actions and their outcomes, per-channel limits and the
// channels actions declare, churn and the segments) are resolved by
// followUp, once both segmentations and actions are parsed.

var (
	limitsKeys   = []string{"per_customer", "per_channel"}
	coverageKeys = []string{"every", "by", "counts"}
)

// followUp decodes limits: and churn:, and resolves the coverage targets
// of raws against the actions, whose names and outcomes are known by then.
func (l *loader) followUp(rs *RuleSet, top map[string]*yaml.Node, raws []*rawSegmentation, acts []*rawAction) {
	actions := make([]*Action, len(acts))
	for i, ra := range acts {
		actions[i] = ra.act
	}
	for _, raw := range raws {
		for _, rseg := range raw.segments {
			if rseg.coverage != nil {
				l.coverage(rseg.coverage, join(rseg.field, "coverage"), rseg.seg.Coverage, actions)
			}
		}
	}
	if n := top["limits"]; n != nil && !isNull(n) {
		rs.Limits = l.limits(n, actions)
	}
	if n := top["churn"]; n != nil {
		rs.Churn = l.churn(n, rs.Segmentations)
	}
}

// limitRE matches a contact limit as written: "2 per 7d".
var limitRE = regexp.MustCompile(`^\s*(\S+)\s+per\s+(\S+)\s*$`)

const limitHint = "write N per DURATION, such as 2 per 7d: at most 2 actions in any 7 days"

// limits decodes the top-level limits: mapping. Every per_channel channel
// must be one some action declares.
func (l *loader) limits(n *yaml.Node, acts []*Action) *Limits {
	m := l.mapping(n, "limits", limitsKeys...)
	lim := &Limits{Pos: l.pos(n)}
	if pc := m["per_customer"]; pc != nil {
		lim.PerCustomer = l.limit(pc, "limits.per_customer")
	}
	if pc := m["per_channel"]; pc != nil {
		lim.PerChannel = l.channelLimits(pc, acts)
	}
	if n.Kind == yaml.MappingNode && len(m) == 0 && len(n.Content) == 0 {
		l.errorf(n, "limits", "add per_customer: 2 per 7d, per_channel: {phone: 1 per 14d}, or both; or remove limits", "limits declares no limit")
	}
	return lim
}

func (l *loader) channelLimits(n *yaml.Node, acts []*Action) map[string]*Limit {
	const field = "limits.per_channel"
	ps := l.pairs(n, field)
	if n.Kind == yaml.MappingNode && len(ps) == 0 {
		l.errorf(n, field, "name each channel with its limit, such as per_channel: {phone: 1 per 14d}", "per_channel names no channel")
		return nil
	}
	var declared []string
	for _, a := range acts {
		if a.Channel != "" && !contains(declared, a.Channel) {
			declared = append(declared, a.Channel)
		}
	}
	out := map[string]*Limit{}
	for _, p := range ps {
		f := join(field, p.Key)
		lim := l.limit(p.Value, f)
		switch {
		case !validName(p.Key):
			l.errorf(p.KeyN, f, "use lower-case letters, digits and _, as in an action's channel:", "%q is not a channel name", p.Key)
		case !contains(declared, p.Key):
			hint := suggest(p.Key, declared)
			switch {
			case hint != "":
			case len(declared) == 0:
				hint = fmt.Sprintf("no action declares a channel: add channel: %s to the actions this limit is for", p.Key)
			default:
				hint = "actions declare the channels " + strings.Join(declared, ", ")
			}
			l.errorf(p.KeyN, f, hint, "no action has channel %q", p.Key)
		case lim != nil:
			out[p.Key] = lim
		}
	}
	return out
}

// limit decodes one contact limit, "N per DURATION".
func (l *loader) limit(n *yaml.Node, field string) *Limit {
	s, ok := l.scalar(n, field)
	if !ok {
		return nil
	}
	m := limitRE.FindStringSubmatchIndex(s)
	if m == nil {
		l.errorf(n, field, limitHint, "%q is not a contact limit", s)
		return nil
	}
	count, within := s[m[2]:m[3]], s[m[4]:m[5]]
	at := func(byteOffset int) Pos { return exprPos(l, n, len([]rune(s[:byteOffset]))) }
	lim := &Limit{Source: s, Pos: l.pos(n)}
	var err error
	if lim.Count, err = strconv.Atoi(count); err != nil || lim.Count < 1 {
		l.report(SeverityError, at(m[2]), field, "write N per DURATION with N at least 1, such as 1 per 7d",
			"%q: the count must be a whole number, at least 1", s)
		return nil
	}
	d, err := ParseDuration(within)
	switch {
	case err != nil:
		l.report(SeverityError, at(m[4]), field, limitHint, "%q: %v", s, err)
		return nil
	case d == 0:
		l.report(SeverityError, at(m[4]), field, limitHint, "%q: the window must be longer than 0", s)
		return nil
	}
	lim.Within = d
	return lim
}

// churn decodes `churn: SEGMENTATION.SEGMENT`.
func (l *loader) churn(n *yaml.Node, segs []*Segmentation) *SegmentRef {
	s, ok := l.scalar(n, "churn")
	if !ok {
		return nil
	}
	segmentation, segment, found := strings.Cut(s, ".")
	if !found || segmentation == "" || segment == "" || strings.Contains(segment, ".") {
		l.errorf(n, "churn", "write SEGMENTATION.SEGMENT, such as churn: lifecycle.churned", "%q does not name a segment", s)
		return nil
	}
	var names []string
	var sg *Segmentation
	for _, x := range segs {
		if x.Name == "" {
			continue
		}
		names = append(names, x.Name)
		if x.Name == segmentation {
			sg = x
		}
	}
	if sg == nil {
		l.errorf(n, "churn", nearOrOneOf(segmentation, names), "unknown segmentation %q", segmentation)
		return nil
	}
	if sg.SegmentIndex(segment) < 0 {
		at := exprPos(l, n, len([]rune(segmentation))+1)
		l.report(SeverityError, at, "churn", nearOrOneOf(segment, segmentNames(sg)), "segmentation %q has no segment %q", sg.Name, segment)
		return nil
	}
	return &SegmentRef{Segmentation: segmentation, Segment: segment, Pos: l.pos(n)}
}

// actionFollowUp decodes an action's channel, holdout, holdout_salt, cost
// and outcomes.
func (l *loader) actionFollowUp(a *Action, m map[string]*yaml.Node, field string) {
	if n := m["channel"]; n != nil {
		f := join(field, "channel")
		if s, ok := l.scalar(n, f); ok {
			if validName(s) {
				a.Channel = s
			} else {
				l.errorf(n, f, "use lower-case letters, digits and _, such as channel: phone", "%q is not a channel name", s)
			}
		}
	}
	if n := m["holdout"]; n != nil {
		a.Holdout = Holdout{BasisPoints: l.holdout(n, join(field, "holdout")), Pos: l.pos(n)}
	}
	if n := m["holdout_salt"]; n != nil {
		f := join(field, "holdout_salt")
		switch {
		case m["holdout"] == nil:
			l.errorf(n, f, "add holdout: 10% to keep a share of the customers out of the action, or remove holdout_salt", "holdout_salt without holdout")
		case !isNull(n):
			a.Holdout.Salt = l.str(n, f)
		}
	}
	if n := m["cost"]; n != nil {
		a.Cost = l.cost(n, join(field, "cost"))
	}
	if n := m["outcomes"]; n != nil {
		a.Outcomes = l.outcomes(n, join(field, "outcomes"))
	}
}

// shareRE matches a percentage as holdout: takes it, "10%" or "2.5%".
var shareRE = regexp.MustCompile(`^(\d+)(?:\.(\d+))?%$`)

const holdoutRangeHint = "give a share between 0% and 100%, such as holdout: 10%"

// holdout decodes a holdout share, "10%", into basis points (1000).
func (l *loader) holdout(n *yaml.Node, field string) int {
	s, ok := l.scalar(n, field)
	if !ok {
		return 0
	}
	s = strings.TrimSpace(s)
	m := shareRE.FindStringSubmatch(s)
	if m == nil {
		hint := holdoutRangeHint
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 100 && !strings.HasSuffix(s, "%") {
			if f < 1 {
				f *= 100 // a fraction: 0.1 is 10%
			}
			hint = "write holdout: " + strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) + "%"
		}
		l.errorf(n, field, hint, "holdout %q is not a percentage", s)
		return 0
	}
	whole, frac := m[1], m[2]
	if len(frac) > 2 {
		l.errorf(n, field, "round it to hundredths of a percent, such as holdout: 12.35%", "holdout %s has more than two decimals", s)
		return 0
	}
	bp := 10000 // out of range unless the whole part is short enough to read
	if len(whole) <= 3 {
		w, _ := strconv.Atoi(whole)
		f, _ := strconv.Atoi((frac + "00")[:2])
		bp = w*100 + f
	}
	if bp <= 0 || bp >= 10000 {
		l.errorf(n, field, holdoutRangeHint, "holdout %s must be more than 0%% and less than 100%%", s)
		return 0
	}
	return bp
}

// cost decodes what one queued action costs: a finite number, at least 0.
func (l *loader) cost(n *yaml.Node, field string) float64 {
	s, ok := l.scalar(n, field)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil:
		l.errorf(n, field, "write what one queued action costs as a number, such as cost: 12.5", "%q is not a number", s)
	case math.IsNaN(f) || math.IsInf(f, 0):
		l.errorf(n, field, "write what one queued action costs as a number, such as cost: 12.5", "cost must be a finite number, not %s", s)
	case f < 0:
		l.errorf(n, field, "write 0 for an action that costs nothing", "cost cannot be negative (%s)", s)
	default:
		return f
	}
	return 0
}

// outcomes decodes an action's list of outcomes.
func (l *loader) outcomes(n *yaml.Node, field string) []string {
	items := l.seq(n, field)
	if (isNull(n) || n.Kind == yaml.SequenceNode) && len(items) == 0 {
		l.errorf(n, field, "list how the action may end, such as outcomes: [reached, no_answer, converted, declined]; or remove outcomes", "outcomes lists no outcome")
		return nil
	}
	if len(items) > MaxOutcomes {
		l.errorf(n, field, "", "%d outcomes; the limit is %d", len(items), MaxOutcomes)
		return nil
	}
	var out []string
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ok := l.scalar(item, f)
		switch {
		case !ok:
		case !validName(s):
			l.errorf(item, f, "use lower-case letters, digits and _, starting with a letter, such as no_answer", "%q is not a valid outcome name", s)
		case contains(out, s):
			l.errorf(item, f, "list each outcome once", "outcome %q is listed twice", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

// coverage decodes a segment's coverage target into cov, resolving its
// actions against acts (indexed like RuleSet.Actions).
func (l *loader) coverage(n *yaml.Node, field string, cov *Coverage, acts []*Action) {
	if !isNull(n) && n.Kind != yaml.MappingNode {
		l.pairs(n, field) // reports the shape
		return
	}
	m := l.mapping(n, field, coverageKeys...)
	if e := l.required(m, n, field, "every", "such as every: 28d"); e != nil {
		cov.Every = l.positiveDuration(e, join(field, "every"), "such as every: 28d")
	}
	byOK := false
	if b := l.required(m, n, field, "by", "name the actions whose outcomes cover the customer, such as by: [vip_care_visit]"); b != nil {
		byOK = l.coverageBy(b, join(field, "by"), cov, acts)
	}
	if c := l.required(m, n, field, "counts", "name the outcomes that count as covering, such as counts: [reached, converted]"); c != nil {
		l.coverageCounts(c, join(field, "counts"), cov, acts, byOK)
	}
}

// positiveDuration decodes a duration that must be longer than 0.
func (l *loader) positiveDuration(n *yaml.Node, field, example string) time.Duration {
	s, ok := l.scalar(n, field)
	if !ok {
		return 0
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		l.errorf(n, field, "", "%v", err)
	case d == 0:
		l.errorf(n, field, example, "%q: the duration must be longer than 0", s)
	}
	return d
}

// coverageBy decodes coverage.by, reporting whether every name in it is
// an action.
func (l *loader) coverageBy(n *yaml.Node, field string, cov *Coverage, acts []*Action) bool {
	items := l.seq(n, field)
	if n.Kind != yaml.SequenceNode {
		return false
	}
	if len(items) == 0 {
		l.errorf(n, field, "name at least one action, such as by: [vip_care_visit]", "by names no action")
		return false
	}
	var names []string
	for _, a := range acts {
		if a.Name != "" {
			names = append(names, a.Name)
		}
	}
	ok := true
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		name, isScalar := l.scalar(item, f)
		if !isScalar {
			ok = false
			continue
		}
		idx := -1
		for k, a := range acts {
			if a.Name == name && name != "" {
				idx = k
			}
		}
		switch {
		case idx < 0:
			hint := nearOrOneOf(name, names)
			if len(names) == 0 {
				hint = "the rule set has no actions"
			}
			l.errorf(item, f, hint, "unknown action %q", name)
			ok = false
		case contains(cov.By, name):
			l.errorf(item, f, "list each action once", "action %q is listed twice", name)
		default:
			cov.By = append(cov.By, name)
			cov.ByIndex = append(cov.ByIndex, idx)
		}
	}
	return ok
}

// coverageCounts decodes coverage.counts. When the actions of by are all
// known (byOK), each outcome must be one that some of them declares.
func (l *loader) coverageCounts(n *yaml.Node, field string, cov *Coverage, acts []*Action, byOK bool) {
	items := l.seq(n, field)
	if n.Kind != yaml.SequenceNode {
		return
	}
	if len(items) == 0 {
		l.errorf(n, field, "name at least one outcome, such as counts: [reached]", "counts names no outcome")
		return
	}
	var declared []string
	for _, i := range cov.ByIndex {
		for _, o := range acts[i].Outcomes {
			if !contains(declared, o) {
				declared = append(declared, o)
			}
		}
	}
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		name, ok := l.scalar(item, f)
		switch {
		case !ok:
		case contains(cov.Counts, name):
			l.errorf(item, f, "list each outcome once", "outcome %q is listed twice", name)
		case byOK && len(cov.By) > 0 && !contains(declared, name):
			l.errorf(item, f, countsHint(name, cov.By, declared), "%q is not an outcome of %s", name, strings.Join(cov.By, " or "))
		default:
			cov.Counts = append(cov.Counts, name)
		}
	}
}

// countsHint says how to fix a coverage outcome that none of the by
// actions declares.
func countsHint(name string, by, declared []string) string {
	if h := suggest(name, declared); h != "" {
		return h
	}
	switch {
	case len(by) == 1 && len(declared) == 0:
		return fmt.Sprintf("%s declares no outcomes: add outcomes: [%s] to it", by[0], name)
	case len(declared) == 0:
		return fmt.Sprintf("none of them declares outcomes: add outcomes: [%s] to the action it is an outcome of", name)
	case len(by) == 1:
		return fmt.Sprintf("%s declares %s; to count %s, add it to the action's outcomes:", by[0], strings.Join(declared, ", "), name)
	}
	return fmt.Sprintf("they declare %s; to count %s, add it to the outcomes: of one of them", strings.Join(declared, ", "), name)
}

// hasCoverage reports whether some segment of s declares a coverage
// target.
func hasCoverage(s *Segmentation) bool {
	for _, seg := range s.Segments {
		if seg.Coverage != nil {
			return true
		}
	}
	return false
}
