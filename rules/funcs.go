package rules

import (
	"fmt"
	"math"
	"time"

	"github.com/expr-lang/expr"
)

// allowedBuiltins are the expr builtins rules may call. Everything else,
// including now(), date() and the JSON and base64 helpers, is disabled:
// rules see no clock and need no I/O-shaped helpers.
var allowedBuiltins = []string{
	"len", "abs", "ceil", "floor", "round", "max", "min", "int", "float", "string",
	"lower", "upper", "trim", "hasPrefix", "hasSuffix",
	"all", "any", "none", "one", "filter", "map", "count", "sum", "mean",
}

// functions are tierflow's own domain helpers. Each reports a null or
// out-of-domain argument as an error, which the engine returns per
// customer instead of guessing a result. Where a helper takes a date or a
// time, the time's signature comes last: expr reports a mismatch against
// the last one.
var functions = []expr.Option{
	expr.Function("days_between", func(p ...any) (any, error) {
		a, b, err := twoTimes("days_between", p)
		if err != nil {
			return nil, err
		}
		return IntValue(daysBetween(a, b)), nil
	}, new(func(dateValue, dateValue) int), new(func(dateValue, time.Time) int),
		new(func(time.Time, dateValue) int), new(func(time.Time, time.Time) int)),
	expr.Function("months_between", func(p ...any) (any, error) {
		a, b, err := twoTimes("months_between", p)
		if err != nil {
			return nil, err
		}
		return IntValue(monthsBetween(a, b)), nil
	}, new(func(dateValue, dateValue) int), new(func(dateValue, time.Time) int),
		new(func(time.Time, dateValue) int), new(func(time.Time, time.Time) int)),
	// days_since(t) and months_since(t) are rewritten at compile time to
	// take the as-of time as a second argument (see macroVisitor), and
	// for a date to count from the as-of date (see dateVisitor).
	expr.Function("days_since", func(p ...any) (any, error) {
		a, b, err := twoTimes("days_since", p)
		if err != nil {
			return nil, err
		}
		return IntValue(daysBetween(a, b)), nil
	}, new(func(dateValue, time.Time) int), new(func(time.Time, time.Time) int)),
	expr.Function("months_since", func(p ...any) (any, error) {
		a, b, err := twoTimes("months_since", p)
		if err != nil {
			return nil, err
		}
		return IntValue(monthsBetween(a, b)), nil
	}, new(func(dateValue, time.Time) int), new(func(time.Time, time.Time) int)),
	// year(t) and month(t) of a time are rewritten to year.in and
	// month.in, which read it in the rule set's zone (see dateVisitor).
	expr.Function("year", func(p ...any) (any, error) {
		t, ok := p[0].(time.Time)
		if !ok {
			return nil, nullArg("year", p[0])
		}
		return t.Year(), nil
	}, new(func(dateValue) int), new(func(time.Time) int)),
	expr.Function("month", func(p ...any) (any, error) {
		t, ok := p[0].(time.Time)
		if !ok {
			return nil, nullArg("month", p[0])
		}
		return int(t.Month()), nil
	}, new(func(dateValue) int), new(func(time.Time) int)),
	expr.Function("pct_change", func(p ...any) (any, error) {
		from, to, err := twoNumbers("pct_change", p)
		if err != nil {
			return nil, err
		}
		if from == 0 {
			return nil, fmt.Errorf("pct_change: the old value is 0, so a percent change is undefined (guard with `old > 0 && ...`)")
		}
		return (to - from) / math.Abs(from) * 100, nil
	}, new(func(float64, float64) float64)),
	expr.Function("ratio", func(p ...any) (any, error) {
		a, b, err := twoNumbers("ratio", p)
		if err != nil {
			return nil, err
		}
		if b == 0 {
			return nil, fmt.Errorf("ratio: division by zero (use safe_div(a, b, default))")
		}
		return a / b, nil
	}, new(func(float64, float64) float64)),
	expr.Function("safe_div", func(p ...any) (any, error) {
		a, b, err := twoNumbers("safe_div", p[:2])
		if err != nil {
			return nil, err
		}
		if b == 0 {
			d, ok := toFloat(p[2])
			if !ok {
				return nil, nullArg("safe_div", p[2])
			}
			return d, nil
		}
		return a / b, nil
	}, new(func(float64, float64, float64) float64)),
	expr.Function("is_null", func(p ...any) (any, error) {
		return p[0] == nil, nil
	}, new(func(any) bool)),
	expr.Function("coalesce", func(p ...any) (any, error) {
		for _, v := range p {
			if v != nil {
				return v, nil
			}
		}
		return nil, nil
	}),
}

// functionNames lists every callable name a rule may use, for hints.
var functionNames = append([]string{
	"days_between", "months_between", "year", "month", "date", "pct_change", "ratio",
	"safe_div", "is_null", "coalesce",
}, allowedBuiltins...)

func nullArg(fn string, v any) error {
	if v == nil {
		return fmt.Errorf("%s: argument is null (guard with is_null() or coalesce())", fn)
	}
	return fmt.Errorf("%s: unexpected argument %v (%T)", fn, v, v)
}

func twoTimes(fn string, p []any) (time.Time, time.Time, error) {
	a, ok := p[0].(time.Time)
	if !ok {
		return a, a, nullArg(fn, p[0])
	}
	b, ok := p[1].(time.Time)
	if !ok {
		return a, b, nullArg(fn, p[1])
	}
	return a, b, nil
}

func twoNumbers(fn string, p []any) (float64, float64, error) {
	a, ok := toFloat(p[0])
	if !ok {
		return 0, 0, nullArg(fn, p[0])
	}
	b, ok := toFloat(p[1])
	if !ok {
		return 0, 0, nullArg(fn, p[1])
	}
	return a, b, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	}
	return 0, false
}

// daysBetween counts whole days from a to b; negative when b is earlier.
func daysBetween(a, b time.Time) int {
	return int(b.Sub(a) / (24 * time.Hour))
}

// DaysBetween counts the whole days from a to b, negative when b is
// earlier; it is what days_between and days_since compute.
func DaysBetween(a, b time.Time) int { return daysBetween(a, b) }

// monthsBetween counts whole calendar months from a to b: Jan 15 to
// Feb 14 is 0, Jan 15 to Feb 15 is 1. The calendar is b's zone: UTC for
// dates and facts, the rule set's zone for the as-of time.
func monthsBetween(a, b time.Time) int {
	if b.Before(a) {
		return -monthsBetween(b, a.In(b.Location()))
	}
	a = a.In(b.Location())
	m := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
	for m > 0 && a.AddDate(0, m, 0).After(b) {
		m--
	}
	return m
}
