package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// maxErrorFacts bounds how many facts a rule error lists; the rest are
// counted.
const maxErrorFacts = 6

// errorFacts returns what x reads, with its values in w's environment,
// the null ones first, for a RuleError. It runs only when x has failed.
func errorFacts(x *rules.Expr, w *worker) []FactValue {
	if x == nil || len(x.Reads) == 0 {
		return nil
	}
	out := make([]FactValue, 0, len(x.Reads))
	for _, name := range x.Reads {
		if v := w.value(name); v == nil {
			out = append(out, FactValue{Name: name})
		}
	}
	for _, name := range x.Reads {
		if v := w.value(name); v != nil {
			out = append(out, FactValue{Name: name, Value: v})
		}
	}
	return out
}

// formatFacts writes facts compactly: "a, b are null; c = 12.5, d = "x"".
func formatFacts(facts []FactValue) string {
	shown := facts[:min(len(facts), maxErrorFacts)]
	var nulls, values []string
	for _, f := range shown {
		if f.Value == nil {
			nulls = append(nulls, f.Name)
		} else {
			values = append(values, f.Name+" = "+formatFactValue(f.Value))
		}
	}
	var parts []string
	switch len(nulls) {
	case 0:
	case 1:
		parts = append(parts, nulls[0]+" is null")
	default:
		parts = append(parts, strings.Join(nulls, ", ")+" are null")
	}
	if len(values) > 0 {
		parts = append(parts, strings.Join(values, ", "))
	}
	if more := len(facts) - len(shown); more > 0 {
		parts = append(parts, fmt.Sprintf("%d more", more))
	}
	return strings.Join(parts, "; ")
}

// formatFactValue writes one value short: text quoted and cut at 40
// characters, dates without a time of day.
func formatFactValue(v any) string {
	switch x := v.(type) {
	case string:
		if r := []rune(x); len(r) > 40 {
			x = string(r[:40]) + "..."
		}
		return strconv.Quote(x)
	case float64:
		if math.Abs(x) < 1e21 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		if u := x.UTC(); u.Equal(u.Truncate(24 * time.Hour)) {
			return u.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}
