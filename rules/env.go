package rules

import (
	"time"
)

// Limits bound what one rule file may contain, so that an untrusted or
// mistaken file cannot make loading or evaluation arbitrarily expensive.
const (
	MaxFileBytes        = 1 << 20
	MaxExprBytes        = 4096
	MaxExprNodes        = 400
	MaxSegmentations    = 64
	MaxSegments         = 256
	MaxActions          = 256
	MaxPayloadFields    = 32
	MaxOutcomes         = 32
	MaxParams           = 512
	MaxFacts            = 1024
	MaxTestCases        = 10000
	maxTestFactsPerCase = MaxFacts
)

// Limits on what evaluating a rule set can cost, in steps of the
// expression VM (see the cost model in cost.go): a bound on the work one
// customer can take, checked when the file loads. A step takes about 5 to
// 30 ns, so an expression at MaxExprSteps takes around a millisecond of
// one core and a rule set at MaxRuleSetSteps some 10 ms per customer;
// ordinary conditions take from a few steps to a few dozen, the shipped
// examples 134 to 435 steps for all their rules together.
const (
	// MaxExprSteps bounds one evaluation of one expression.
	MaxExprSteps = 100_000
	// MaxRuleSetSteps bounds evaluating every expression of a rule set
	// once, for one customer.
	MaxRuleSetSteps = 1_000_000
)

// AsOfVar is the name expressions use for the run's as-of time.
const AsOfVar = "as_of"

// AbsentVar names the bool variable that is true while the engine
// evaluates a customer who left the facts source (on_missing: exit).
// left("SEGMENTATION") is rewritten to read it; like the Vars names it
// contains a dot, so no fact can take it and no rule can write it.
const AbsentVar = "source.absent"

// Vars names the variables through which expressions see one
// segmentation's state. The engine sets them for every customer; rule
// authors reach them through segment.X, previous.X and the helper
// functions, never by these names.
type Vars struct {
	Segment, Previous, Rank, PreviousRank, DaysIn, DaysInPrevious string
	// Overdue (bool) and DaysSinceCovered (int, -1 when never covered)
	// are the customer's coverage state in its new segment, which
	// overdue("SEGMENTATION") and days_since_covered("SEGMENTATION")
	// read; only actions may call them.
	Overdue, DaysSinceCovered string
}

// VarsFor returns the variable names of the segmentation called name.
func VarsFor(segmentation string) Vars {
	return Vars{
		Segment:          "segment." + segmentation,
		Previous:         "previous." + segmentation,
		Rank:             "rank." + segmentation,
		PreviousRank:     "previous_rank." + segmentation,
		DaysIn:           "days_in." + segmentation,
		DaysInPrevious:   "days_in_previous." + segmentation,
		Overdue:          "overdue." + segmentation,
		DaysSinceCovered: "days_since_covered." + segmentation,
	}
}

// typedEnv builds the environment expressions are checked against: every
// fact with a value of its Go type (dateValue for a date, which only the
// checker sees), the as-of time and date, and each segmentation's state
// variables.
func typedEnv(schema *Schema, segs []*Segmentation) map[string]any {
	env := map[string]any{AsOfVar: time.Time{}, AsOfDateVar: dateValue(0), AbsentVar: false}
	if schema != nil {
		for _, f := range schema.Fields {
			env[f.Name] = f.Type.zero()
			if f.Type == TypeDate {
				env[f.Name] = dateValue(0)
			}
		}
	}
	for _, s := range segs {
		v := VarsFor(s.Name)
		env[v.Segment] = ""
		env[v.Previous] = ""
		env[v.Rank] = 0
		env[v.PreviousRank] = 0
		env[v.DaysIn] = 0
		env[v.DaysInPrevious] = 0
		env[v.Overdue] = false
		env[v.DaysSinceCovered] = 0
	}
	return env
}
