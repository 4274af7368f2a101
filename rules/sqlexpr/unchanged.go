package sqlexpr

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// Customer is how a statement reads one customer of a rule set: the
// scope of its facts and of the as-of time and date (rules.AsOfVar,
// rules.AsOfDateVar), the as-of as a timestamptz expression, and its
// previous assignment in each segmentation of the rule set, in order.
type Customer struct {
	Facts Scope
	AsOf  string
	State []Previous
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
// days_in.X days_in_previous.X:
// the conditions are translated with the state variables read from its
// state, which is exact for every customer the whole condition holds for
// (those for whom some segmentation's decision differs are not, but the
// condition is false for them anyway). So entered(), left(), changed(),
// upgraded() and downgraded() are false for it, and an action's other
// conditions are evaluated as the engine would. The customer's facts must
// be those the engine sees: the caller checks that they convert (no fact
// error) before it relies on the condition.
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
		prev := c.State[i]
		d := Decide(s, col, c.AsOf, prev)
		conds = append(conds,
			"COALESCE("+col+" NOT IN ("+quote(Engine)+", "+quote(Failed)+"), FALSE)",
			"("+d.Segment+") IS NOT DISTINCT FROM NULLIF("+prev.Segment+", '')",
			"("+d.Since+") IS NOT DISTINCT FROM "+prev.Since,
			"("+d.PendingSince+") IS NOT DISTINCT FROM "+prev.PendingSince)
	}
	for _, a := range rs.Actions {
		if a.When == nil || a.When.Program == nil {
			return "", &Unsupported{Field: "actions." + a.Name + ".when", Pos: a.Pos, Reason: "an action without a condition fires for every customer"}
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
	if len(matches) == 0 {
		return "COALESCE(" + all + ", FALSE)", nil
	}
	// Each segmentation's match is computed once, in a subquery that
	// OFFSET 0 keeps the planner from inlining: Decide reads it a dozen
	// times.
	return "COALESCE((SELECT " + all + "\n  FROM (SELECT " + strings.Join(matches, ", ") + " OFFSET 0) AS tf_dm), FALSE)", nil
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
