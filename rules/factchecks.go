package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// factKeys are the keys of a fact's long form: its type and display text,
// then its checks (see FactChecks).
var factKeys = []string{"type", "nullable", "label", "description", "min", "max", "one_of", "unique", "max_null_share"}

// factChecks decodes and validates the checks in the long form m of fact
// f, whose type is known; it returns nil when there are none.
func (l *loader) factChecks(m map[string]*yaml.Node, f Field, field string) *FactChecks {
	if m == nil {
		return nil
	}
	c := &FactChecks{}
	l.bounds(m, f, field, c)
	if n := m["one_of"]; n != nil {
		c.OneOf = l.oneOfCheck(n, f, join(field, "one_of"))
	}
	if n := m["unique"]; n != nil {
		c.Unique = l.boolean(n, join(field, "unique"))
	}
	if n := m["max_null_share"]; n != nil {
		c.MaxNullShare = l.nullShareCheck(n, f, join(field, "max_null_share"))
	}
	if c.empty() {
		return nil
	}
	return c
}

// bounds decodes min and max: numbers for number and integer facts,
// dates for time facts.
func (l *loader) bounds(m map[string]*yaml.Node, f Field, field string, c *FactChecks) {
	minN, maxN := m["min"], m["max"]
	if minN == nil && maxN == nil {
		return
	}
	switch f.Type {
	case TypeNumber, TypeInteger:
		c.Min = l.numberBound(minN, join(field, "min"))
		c.Max = l.numberBound(maxN, join(field, "max"))
		if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			l.errorf(maxN, join(field, "max"), "swap them, or correct the one that is wrong", "min %s is greater than max %s", formatNumber(*c.Min), formatNumber(*c.Max))
		}
	case TypeTime, TypeDate:
		c.MinTime = l.timeBound(minN, f.Type, join(field, "min"))
		c.MaxTime = l.timeBound(maxN, f.Type, join(field, "max"))
		if c.MinTime != nil && c.MaxTime != nil && c.MinTime.After(*c.MaxTime) {
			l.errorf(maxN, join(field, "max"), "swap them, or correct the one that is wrong", "min %s is later than max %s", formatTime(*c.MinTime), formatTime(*c.MaxTime))
		}
	default:
		hint := "to allow only some texts, use one_of: [a, b]"
		if f.Type == TypeBool {
			hint = "a bool is only ever true or false; remove it"
		}
		for _, key := range []string{"min", "max"} {
			if n := m[key]; n != nil {
				l.errorf(n, join(field, key), hint, "%s applies to number, integer, time and date facts, and %q is %s %s", key, f.Name, article(f.Type.String()), f.Type)
			}
		}
	}
}

func (l *loader) numberBound(n *yaml.Node, field string) *float64 {
	s, ok := l.scalar(n, field)
	if !ok {
		return nil
	}
	var x float64
	if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&x) != nil {
		l.errorf(n, field, "write a number without quotes, e.g. 0 or 10000000", "%q is not a number", s)
		return nil
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		l.errorf(n, field, "leave it out for no bound", "%s must be a finite number", s)
		return nil
	}
	return &x
}

func (l *loader) timeBound(n *yaml.Node, t Type, field string) *time.Time {
	s, ok := l.scalar(n, field)
	if !ok {
		return nil
	}
	if t == TypeDate {
		d, ok := parseDateOnly(strings.TrimSpace(s))
		if !ok {
			l.errorf(n, field, "a date fact's bounds are days, e.g. 2000-01-01", "%q is not a date", s)
			return nil
		}
		return &d
	}
	tm, err := ParseTime(s)
	if err != nil {
		l.errorf(n, field, "a time fact's bounds are dates, e.g. 2000-01-01", "%v", err)
		return nil
	}
	return &tm
}

// oneOfCheck decodes one_of: a list of texts for a string fact, of whole
// numbers for an integer fact.
func (l *loader) oneOfCheck(n *yaml.Node, f Field, field string) []any {
	switch f.Type {
	case TypeString, TypeInteger:
	default:
		hint := "bound it with min and max instead"
		if f.Type == TypeBool {
			hint = "a bool is only ever true or false; remove one_of"
		}
		l.errorf(n, field, hint, "one_of applies to string and integer facts, and %q is %s %s", f.Name, article(f.Type.String()), f.Type)
		return nil
	}
	items := l.seq(n, field)
	if len(items) == 0 {
		if isNull(n) || n.Kind == yaml.SequenceNode {
			l.errorf(n, field, "list the allowed values, e.g. one_of: [online, store]", "one_of lists no values")
		}
		return nil
	}
	out := make([]any, 0, len(items))
	seen := map[any]int{}
	for _, item := range items {
		if item.Kind != yaml.ScalarNode || isNull(item) {
			l.errorf(item, field, fmt.Sprintf("nulls are allowed by a nullable type (%s?) and bounded by max_null_share", f.Type), "one_of values are single values, not null")
			continue
		}
		var v any = item.Value
		if f.Type == TypeInteger {
			i, err := strconv.Atoi(item.Value)
			if err != nil {
				l.errorf(item, field, "", "%q is not a whole number", item.Value)
				continue
			}
			v = i
		}
		if line, dup := seen[v]; dup {
			l.errorf(item, field, fmt.Sprintf("the first is on line %d", line), "%s is listed twice", formatCheckValue(v))
			continue
		}
		seen[v] = item.Line
		out = append(out, v)
	}
	return out
}

func (l *loader) nullShareCheck(n *yaml.Node, f Field, field string) *float64 {
	s, ok := l.scalar(n, field)
	if !ok {
		return nil
	}
	share, err := ParseShare(s)
	if err != nil {
		l.errorf(n, field, "", "%v", err)
		return nil
	}
	if !f.Nullable {
		l.errorf(n, field, fmt.Sprintf("declare the fact nullable (type: %s?), or remove max_null_share", f.Type),
			"max_null_share applies to nullable facts, and %q is not nullable: a null is already an error for every customer", f.Name)
		return nil
	}
	return &share
}
