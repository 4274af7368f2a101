package sqlexpr

import (
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// Markers a Match's Outcome gives instead of a segment's name. No
// segment can be called so: names are identifiers.
const (
	// Engine marks a customer the engine must classify (a condition's
	// Inexact row).
	Engine = "~engine"
	// Failed marks a customer for whom a condition fails: the engine
	// reports a rule error and keeps the customer's previous segment.
	Failed = "~error"
)

// Match is the SQL that picks a customer's segment in one segmentation
// as the engine's first look does: the first segment, in their order,
// whose condition holds, or the fallback. It is what the conditions
// match, before stickiness (min_stay, downgrade_grace), which a
// segmentation applies to a customer with a previous segment.
type Match struct {
	Segmentation string
	// Outcome is a text expression: the matched segment's name, Engine or
	// Failed. A condition is evaluated only where every earlier one
	// returned false, as in the engine.
	Outcome string
}

// MatchSegmentation translates the conditions of rs's segmentation si in
// scope, or returns the first *Unsupported error among them.
func MatchSegmentation(rs *rules.RuleSet, si int, scope Scope) (*Match, error) {
	s := rs.Segmentations[si]
	var b strings.Builder
	b.WriteString("CASE")
	fallback := "NULL"
	for _, seg := range s.Segments {
		if seg.Fallback || seg.When == nil {
			fallback = quote(seg.Name)
			break
		}
		c, err := Translate(seg.When, scope)
		if err != nil {
			return nil, err
		}
		if c.Inexact != "FALSE" {
			b.WriteString(" WHEN " + c.Inexact + " THEN " + quote(Engine))
		}
		if c.Error != "FALSE" {
			b.WriteString(" WHEN " + c.Error + " THEN " + quote(Failed))
		}
		b.WriteString(" WHEN " + c.Value + " THEN " + quote(seg.Name))
	}
	b.WriteString(" ELSE " + fallback + " END")
	return &Match{Segmentation: s.Name, Outcome: b.String()}, nil
}
