package sqlexpr

import (
	"errors"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/tierflow/tierflow/rules"
)

// Customer is how a statement reads one customer of a rule set: the
// scope of its facts and of the as-of time and date (rules.AsOfVar,
// rules.AsOfDateVar), the as-of as a timestamptz expression, and its
// previous assignment in each segmentation of the rule set, in order.
// Prelude, when set, lists select expressions with their aliases ("x AS
// f0") that Unchanged computes once per customer, in a subquery named
// tf_f, before anything else: the scope may then read tf_f.f0, so that a
// fact whose read costs (a cast of numeric) is read once.
type Customer struct {
	Facts   Scope
	AsOf    string
	State   []Previous
	Prelude []string
	// LastAction, which NextOf reads, is for each action of the rule set,
	// in order, when it last started its cooldown (a timestamptz
	// expression, NULL for never; "" where the state has no such time).
	LastAction []string
}

// Unchanged is the condition that the engine, evaluating the customer c
// of a present source row, would leave it exactly as its state has it:
// in every segmentation of rs the decision keeps the segment, the since
// and the pending-since dates as they are, no condition fails or is left
// to the engine, and no action's condition holds, so that nothing is
// queued, held out or suppressed. It is never NULL.
//
// A customer who stays where it is in every segmentation sees the same
// segment in segment.X and previous.X, rank.X equals previous_rank.X and
// days_in.X days_in_previous.X: the conditions are translated with the
// state variables read from its state, which is exact for every customer
// the whole condition holds for (those for whom some segmentation's
// decision differs are not, but the condition is false for them anyway).
// So entered(), left(), changed(), upgraded() and downgraded() are false
// for it, and an action whose condition needs one of them to hold
// (transitionGated) needs no SQL at all; the others are evaluated as the
// engine would. The customer's facts must be those the engine sees: the
// caller checks that they convert (no fact error) before it relies on the
// condition.
//
// What reads something the state row does not hold (coverage) or has no
// exact translation is refused with the first *Unsupported error.
func Unchanged(rs *rules.RuleSet, c Customer) (string, error) {
	if len(c.State) != len(rs.Segmentations) {
		return "", errors.New("sqlexpr.Unchanged: one previous assignment per segmentation is needed")
	}
	vars := map[string]Column{rules.AbsentVar: {SQL: "FALSE", Kind: Bool}}
	for i, s := range rs.Segmentations {
		v := rules.VarsFor(s.Name)
		seg := Column{SQL: "COALESCE(" + c.State[i].Segment + ", '')", Kind: String}
		rank := Column{SQL: "(" + rankOf(s, seg.SQL) + ")::bigint", Kind: Int}
		vars[v.Segment], vars[v.Previous] = seg, seg
		vars[v.Rank], vars[v.PreviousRank] = rank, rank
		// Whole days since the customer entered the segment, 0 when the
		// state has no date (the engine's days).
		in := Column{SQL: "CASE WHEN " + c.State[i].Since + " IS NULL THEN 0::bigint ELSE " + days(c.State[i].Since, c.AsOf) + " END", Kind: Int}
		vars[v.DaysIn], vars[v.DaysInPrevious] = in, in
	}
	scope := func(name string) (Column, bool) {
		if col, ok := vars[name]; ok {
			return col, true
		}
		return c.Facts(name)
	}
	var matches, conds []string
	for i, s := range rs.Segmentations {
		m, err := MatchSegmentation(rs, i, scope)
		if err != nil {
			return "", err
		}
		col := "tf_dm.m" + strconv.Itoa(i)
		matches = append(matches, m.Outcome+" AS m"+strconv.Itoa(i))
		conds = append(conds, keeps(s, col, c.AsOf, c.State[i]))
	}
	for _, a := range rs.Actions {
		if a.When == nil || a.When.Program == nil {
			return "", &Unsupported{Field: "actions." + a.Name + ".when", Pos: a.Pos, Reason: "an action without a condition fires for every customer"}
		}
		if transitionGated(a.When.Source) {
			continue // false for a customer who stays
		}
		w, err := Translate(a.When, scope)
		if err != nil {
			return "", err
		}
		// Quiet where the engine's condition is false: not left to the
		// engine, no rule error, and a value that is not true.
		conds = append(conds, "CASE WHEN "+w.Inexact+" THEN FALSE WHEN "+w.Error+" THEN FALSE WHEN "+w.Value+" THEN FALSE ELSE TRUE END")
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	all := strings.Join(conds, "\n  AND ")
	// Each fact of the prelude is read once, and each segmentation's
	// match computed once, in subqueries that OFFSET 0 keeps the planner
	// from inlining: the conditions read them many times.
	var from []string
	if len(c.Prelude) > 0 {
		from = append(from, "(SELECT "+strings.Join(c.Prelude, ", ")+" OFFSET 0) AS tf_f")
	}
	if len(matches) > 0 {
		lateral := ""
		if len(from) > 0 {
			lateral = "LATERAL " // after tf_f, which the matches read
		}
		from = append(from, lateral+"(SELECT "+strings.Join(matches, ", ")+" OFFSET 0) AS tf_dm")
	}
	if len(from) == 0 {
		return "COALESCE(" + all + ", FALSE)", nil
	}
	return "COALESCE((SELECT " + all + "\n  FROM " + strings.Join(from, " CROSS JOIN ") + "), FALSE)", nil
}

// keeps is the condition that segmentation s's decision (Decide) keeps
// the previous assignment prev exactly, segment, since and pending-since
// date, where the text column match holds the MatchSegmentation outcome:
// Decide's answer to that one question, in its cheapest form. A match of
// the previous segment keeps it, and keeps the dates unless a downgrade
// was pending (the pending date ends). Another match keeps the segment
// only by downgrade_grace or min_stay, and the dates only when a grace
// already running goes on (its pending date, not after the as-of,
// stays) or min_stay holds without a grace starting and with no pending
// date. A rule error or a row left to the engine keeps nothing here: the
// engine is to report or decide it.
func keeps(s *rules.Segmentation, match, asOf string, prev Previous) string {
	p, pending := prev.Segment, prev.PendingSince
	mi, pi := segmentIndex(s, match), segmentIndex(s, "COALESCE("+p+", '')")
	graced := func(from string) string {
		var b strings.Builder
		for k, seg := range s.Segments {
			if seg.DowngradeGrace > 0 {
				b.WriteString(" WHEN " + strconv.Itoa(k) + " THEN " + mi + " > " + strconv.Itoa(k) + " AND " + within(asOf, from, seg.DowngradeGrace))
			}
		}
		if b.Len() == 0 {
			return "FALSE"
		}
		return "CASE " + pi + b.String() + " ELSE FALSE END"
	}
	var stay strings.Builder
	for k, seg := range s.Segments {
		if seg.MinStay > 0 {
			stay.WriteString(" WHEN " + strconv.Itoa(k) + " THEN " + within(asOf, prev.Since, seg.MinStay))
		}
	}
	stays := "FALSE"
	if stay.Len() > 0 {
		stays = "CASE " + pi + stay.String() + " ELSE FALSE END"
	}
	rare := "CASE WHEN " + pending + " IS NULL THEN NOT (" + graced(asOf) + ") AND " + stays +
		" WHEN " + pending + " <= " + asOf + " THEN " + graced(pending) + " ELSE FALSE END"
	return "CASE WHEN " + match + " IS NULL OR " + match + " IN (" + quote(Engine) + ", " + quote(Failed) + ") OR " + p + " IS NULL THEN FALSE" +
		" WHEN " + match + " = " + p + " THEN " + pending + " IS NULL" +
		" WHEN " + pi + " < 0 THEN FALSE ELSE " + rare + " END"
}

// transitionGated reports whether the condition source can hold only
// for a customer who moves in some segmentation: it is a call of
// entered(), left(), changed(), upgraded() or downgraded() (left() of
// one argument, a customer gone from the source, included), an && with
// such a side, an || of two such, or a ?: whose branches both are. It
// is false for a source that does not parse.
func transitionGated(source string) bool {
	tree, err := parser.Parse(source)
	if err != nil {
		return false
	}
	return gated(tree.Node)
}

func gated(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return false
		}
		switch id.Value {
		case "entered", "left", "changed", "upgraded", "downgraded":
			return true
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			return gated(n.Left) || gated(n.Right)
		case "||", "or":
			return gated(n.Left) && gated(n.Right)
		}
	case *ast.ConditionalNode:
		return gated(n.Exp1) && gated(n.Exp2)
	}
	return false
}

// rankOf is the engine's rank of the segment named by text x in s: its
// position from 1, 0 for none or one s does not have.
func rankOf(s *rules.Segmentation, x string) string {
	var b strings.Builder
	b.WriteString("CASE " + x)
	for k, seg := range s.Segments {
		b.WriteString(" WHEN " + quote(seg.Name) + " THEN " + strconv.Itoa(k+1))
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}
