package sqlexpr

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// Next is the SQL of a customer's whole evaluation, as the engine's
// fast path makes it for a customer of a present source row whose facts
// convert: each segmentation's decision, after its stickiness, and each
// action, with its condition, cooldown and payload. It is what a
// set-based run writes instead of streaming the customer through the
// engine. Its parts read the FROM items in From, which follow the row's
// source and state in a FROM list.
//
// Where the engine would report a rule error, or a condition is left to
// it (a Match's Engine or Failed outcome, an action's condition or
// payload that fails), Bad is true and the other parts mean nothing: a
// run must leave such customers to the engine.
type Next struct {
	// From is the LATERAL subqueries the parts read, in evaluation
	// order, each starting with ", " (OFFSET 0 keeps the planner from
	// copying a decision into every expression that reads it). Run it
	// with enable_memoize off (NextSettings).
	From string
	// Segmentations are the decisions, in the order of
	// rules.RuleSet.Segmentations. Matched is the segment the conditions
	// matched, before stickiness.
	Segmentations []NextSegmentation
	// Actions are in the order of rules.RuleSet.Actions.
	Actions []NextAction
	// Bad is the condition that the customer must be left to the engine.
	Bad string
}

// NextSettings are the settings (parameter = value, for SET LOCAL or
// ALTER DATABASE ... SET) of the transaction that runs a statement
// reading Next's From: PostgreSQL 15 otherwise caches each LATERAL step
// in a Memoize node keyed by every column the step reads, which nearly
// every customer misses (98% of 100,000), and the cache's upkeep more
// than doubled the statement's time (3.9-4.2 s against 1.75-1.78 s at
// 300,000 customers of the retail example, grouped as a plan counts).
var NextSettings = []string{"enable_memoize = off"}

// NextSegmentation is one segmentation's decision: Decision's parts and
// the segment the conditions matched.
type NextSegmentation struct {
	Decision
	Matched string
}

// NextAction is one action's outcome: Fires is the condition that it is
// queued (its condition holds and its cooldown has ended), Payload its
// payload, a jsonb object, where it fires.
type NextAction struct {
	Fires, Payload string
}

// NextOf translates the whole evaluation of rs for customer c, whose
// LastAction gives the time each action last started its cooldown, or
// returns the first *Unsupported error: what has no exact translation,
// and what the engine decides from more than the facts and the state
// row (coverage targets, contact limits, holdout groups).
func NextOf(rs *rules.RuleSet, c Customer) (*Next, error) {
	if len(c.State) != len(rs.Segmentations) || len(c.LastAction) != len(rs.Actions) {
		return nil, fmt.Errorf("sqlexpr.NextOf: one previous assignment per segmentation and one last time per action are needed")
	}
	if rs.Limits != nil {
		return nil, &Unsupported{Field: "limits", Reason: "contact limits count the customer's queued actions, which a statement does not read"}
	}
	vars := map[string]Column{rules.AbsentVar: {SQL: "FALSE", Kind: Bool}}
	for i, s := range rs.Segmentations {
		for _, seg := range s.Segments {
			if seg.Coverage != nil {
				return nil, &Unsupported{Field: "segmentations." + s.Name + ".segments." + seg.Name + ".coverage", Reason: "coverage counts follow-up outcomes, which a statement does not read"}
			}
		}
		v := rules.VarsFor(s.Name)
		prev := c.State[i]
		p := "COALESCE(" + prev.Segment + ", '')"
		vars[v.Previous] = Column{SQL: p, Kind: String}
		vars[v.PreviousRank] = Column{SQL: "(" + rankOf(s, p) + ")::bigint", Kind: Int}
		vars[v.DaysInPrevious] = Column{SQL: sinceDays(prev.Since, c.AsOf), Kind: Int}
	}
	scope := func(name string) (Column, bool) {
		if col, ok := vars[name]; ok {
			return col, true
		}
		return c.Facts(name)
	}
	var from strings.Builder
	if len(c.Prelude) > 0 {
		from.WriteString(", LATERAL (SELECT " + strings.Join(c.Prelude, ", ") + " OFFSET 0) AS tf_f")
	}
	n := &Next{Segmentations: make([]NextSegmentation, len(rs.Segmentations))}
	var bad []string
	// Each LATERAL step is a plan node every customer passes through, so
	// the segmentations share their steps: those whose conditions read no
	// decision of this run match in the first step and are decided in the
	// second; those that read only theirs in the next two; and so on.
	level := make([]int, len(rs.Segmentations))
	decidedBy := map[string]int{} // a decision's variable: its segmentation
	type step struct{ match, decide []string }
	var steps []step
	for _, i := range rs.EvalOrder {
		s := rs.Segmentations[i]
		lv := 0
		m, err := MatchSegmentation(rs, i, func(name string) (Column, bool) {
			if j, ok := decidedBy[name]; ok {
				lv = max(lv, level[j]+1)
			}
			return scope(name)
		})
		if err != nil {
			return nil, err
		}
		level[i] = lv
		for len(steps) <= lv {
			steps = append(steps, step{})
		}
		is, ls := strconv.Itoa(i), strconv.Itoa(lv)
		match, di := "tf_m"+ls+".m"+is, "tf_d"+ls+"."
		d := Decide(s, match, c.AsOf, c.State[i])
		steps[lv].match = append(steps[lv].match, m.Outcome+" AS m"+is)
		steps[lv].decide = append(steps[lv].decide, d.Segment+" AS segment"+is, d.Since+" AS since"+is,
			d.PendingSince+" AS pending_since"+is, d.Reason+" AS reason"+is)
		n.Segmentations[i] = NextSegmentation{
			Decision: Decision{Segment: di + "segment" + is, Since: di + "since" + is, PendingSince: di + "pending_since" + is, Reason: di + "reason" + is},
			Matched:  match,
		}
		bad = append(bad, match+" IN ("+quote(Engine)+", "+quote(Failed)+")")
		// The segmentations evaluated after this one, and the actions,
		// see its new segment.
		v := rules.VarsFor(s.Name)
		seg := "COALESCE(" + di + "segment" + is + ", '')"
		vars[v.Segment] = Column{SQL: seg, Kind: String}
		vars[v.Rank] = Column{SQL: "(" + rankOf(s, seg) + ")::bigint", Kind: Int}
		vars[v.DaysIn] = Column{SQL: sinceDays(di+"since"+is, c.AsOf), Kind: Int}
		decidedBy[v.Segment], decidedBy[v.Rank], decidedBy[v.DaysIn] = i, i, i
	}
	for lv, st := range steps {
		ls := strconv.Itoa(lv)
		from.WriteString(", LATERAL (SELECT " + strings.Join(st.match, ", ") + " OFFSET 0) AS tf_m" + ls)
		from.WriteString(", LATERAL (SELECT " + strings.Join(st.decide, ", ") + " OFFSET 0) AS tf_d" + ls)
	}
	if len(rs.Actions) > 0 {
		var cols []string
		n.Actions = make([]NextAction, len(rs.Actions))
		for k, a := range rs.Actions {
			if a.Holdout.BasisPoints > 0 {
				return nil, &Unsupported{Field: "actions." + a.Name + ".holdout", Pos: a.Pos, Reason: "a holdout group is drawn by the engine's hash of the customer's key"}
			}
			fires, payload, err := nextAction(a, scope, c.AsOf, c.LastAction[k])
			if err != nil {
				return nil, err
			}
			col := "tf_a.a" + strconv.Itoa(k)
			cols = append(cols, fires+" AS a"+strconv.Itoa(k))
			n.Actions[k] = NextAction{Fires: "COALESCE(" + col + ", FALSE)", Payload: payload.value(col)}
			bad = append(bad, col+" IS NULL", "("+col+" AND "+payload.failed+")")
		}
		from.WriteString(", LATERAL (SELECT " + strings.Join(cols, ", ") + " OFFSET 0) AS tf_a")
	}
	n.From = from.String()
	n.Bad = "(" + strings.Join(bad, " OR ") + ")"
	if len(bad) == 0 {
		n.Bad = "FALSE"
	}
	return n, nil
}

// sqlType is the PostgreSQL type of each kind of value.
var sqlType = map[Kind]string{Int: "bigint", Float: "float8", String: "text", Bool: "boolean", Time: "timestamptz"}

// sinceDays is the engine's whole days from the time since to asOf, 0
// when since is NULL (no segment).
func sinceDays(since, asOf string) string {
	return "CASE WHEN " + since + " IS NULL THEN 0::bigint ELSE " + days(since, asOf) + " END"
}

// nextPayload is an action's payload: where the action fires, failed is
// true when the engine reports a payload error instead.
type nextPayload struct {
	object, failed string
}

// value is the payload where the action whose outcome is in column
// fires holds.
func (p nextPayload) value(fires string) string {
	return "CASE WHEN " + fires + " THEN " + p.object + " END"
}

// nextAction is action a's outcome: fires is true where it is queued,
// false where its condition is false or its cooldown runs, NULL where
// its condition fails or is left to the engine; and its payload.
func nextAction(a *rules.Action, scope Scope, asOf, last string) (fires string, p nextPayload, err error) {
	cooling := "FALSE"
	if a.Cooldown > 0 && last != "" && last != "NULL" {
		cooling = "(" + last + " IS NOT NULL AND " + within(asOf, last, a.Cooldown) + ")"
	}
	fires = "NOT " + cooling
	if a.When != nil && a.When.Program != nil {
		w, err := Translate(a.When, scope)
		if err != nil {
			return "", p, err
		}
		fires = "CASE WHEN " + w.Inexact + " THEN NULL WHEN " + w.Error + " THEN NULL WHEN " + w.Value + " THEN NOT " + cooling + " ELSE FALSE END"
	}
	if len(a.Payload) == 0 {
		return fires, nextPayload{object: "'{}'::jsonb", failed: "FALSE"}, nil
	}
	var elems, failed []string
	for _, f := range a.Payload {
		elems = append(elems, quote(f.Name))
		if f.Expr == nil {
			b, err := json.Marshal(f.Value)
			if err != nil {
				return "", p, &Unsupported{Field: "actions." + a.Name + ".payload." + f.Name, Pos: a.Pos, Reason: "the value has no JSON form: " + err.Error()}
			}
			elems = append(elems, quote(string(b))+"::jsonb")
			continue
		}
		v, err := Translate(f.Expr, scope)
		if err != nil {
			return "", p, err
		}
		// In the package's order: what is left to the engine, then a rule
		// error, then the value, which only then is safe to compute.
		check := "FALSE"
		// Typed, as a constant's literal is not.
		value := "to_jsonb((" + v.Value + ")::" + sqlType[v.Kind] + ")"
		// A float is finite here: the facts are (the caller checks that
		// they convert), and Translate leaves every operation that could
		// overflow to the engine, so the engine's non-finite payload
		// error cannot arise.
		switch {
		case v.Kind == Time && f.Expr.Date:
			// The engine writes a date as Go's time.DateOnly, four digits
			// of year, which to_char writes alike from year 1 to 9999.
			check = "COALESCE(extract(year FROM (" + v.Value + ") AT TIME ZONE 'UTC') NOT BETWEEN 1 AND 9999, FALSE)"
			value = "to_jsonb(to_char((" + v.Value + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD'))"
		case v.Kind == Time:
			return "", p, &Unsupported{Field: f.Expr.Field, Pos: f.Expr.Pos, Source: f.Expr.Source,
				Reason: "a time in a payload is written as Go formats it, with its zone, which to_char does not promise"}
		}
		failed = append(failed, "CASE WHEN "+v.Inexact+" THEN TRUE WHEN "+v.Error+" THEN TRUE ELSE "+check+" END")
		elems = append(elems, "CASE WHEN "+v.Inexact+" THEN NULL WHEN "+v.Error+" THEN NULL ELSE "+value+" END")
	}
	p = nextPayload{object: "jsonb_build_object(" + strings.Join(elems, ", ") + ")", failed: "FALSE"}
	if len(failed) > 0 {
		p.failed = "(" + strings.Join(failed, " OR ") + ")"
	}
	return fires, p, nil
}
