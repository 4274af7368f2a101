package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FactChecks are the data-quality checks declared on one fact in the long
// form of the facts schema:
//
//	spend_12m: {type: number, min: 0, max: 10000000}
//	channel: {type: string, one_of: [online, store, partner]}
//	email: {type: string?, unique: true}
//	last_order_at: {type: time?, max_null_share: 5%}
//
// Compile validates them against the fact's type; the rules package never
// runs them over data. Violation and NullShare are the per-value and
// per-source tests a facts reader applies. A nil pointer field, a nil
// OneOf and a false Unique mean the check is not declared. Every check
// ignores null values except MaxNullShare, which counts them.
type FactChecks struct {
	// Min and Max bound a number or integer fact's values, inclusive.
	Min, Max *float64
	// MinTime and MaxTime bound a time fact's values, inclusive; the file
	// writes them as dates (2000-01-01) or date-times, read as UTC.
	MinTime, MaxTime *time.Time
	// OneOf lists the values a string or integer fact may take, in file
	// order, as the fact's Go type: string or int.
	OneOf []any
	// Unique says no two customers may share a non-null value.
	Unique bool
	// MaxNullShare is the largest share of customers, from 0 to 1, whose
	// value may be null; only nullable facts declare it.
	MaxNullShare *float64
}

// Violation says how v breaks the fact's min, max or one_of check, such
// as "-5 is below min 0" or `"web" is not one of online, store, partner`,
// or returns "" when it breaks none. v is a value as Field.Coerce returns
// it; null breaks none of these checks (see NullShare). It is safe to
// call on a nil *FactChecks.
func (c *FactChecks) Violation(v any) string {
	if c == nil || v == nil {
		return ""
	}
	if t, ok := v.(time.Time); ok {
		switch {
		case c.MinTime != nil && t.Before(*c.MinTime):
			return fmt.Sprintf("%s is before min %s", formatTime(t), formatTime(*c.MinTime))
		case c.MaxTime != nil && t.After(*c.MaxTime):
			return fmt.Sprintf("%s is after max %s", formatTime(t), formatTime(*c.MaxTime))
		}
	} else if x, ok := toFloat(v); ok {
		switch {
		case c.Min != nil && x < *c.Min:
			return fmt.Sprintf("%s is below min %s", formatNumber(x), formatNumber(*c.Min))
		case c.Max != nil && x > *c.Max:
			return fmt.Sprintf("%s is above max %s", formatNumber(x), formatNumber(*c.Max))
		}
	}
	if c.OneOf != nil && !c.allows(v) {
		return fmt.Sprintf("%s is not one of %s", formatCheckValue(v), c.oneOfList())
	}
	return ""
}

// NullShare says how nulls values out of rows break max_null_share, such
// as "7.5% of values are null (150 of 2000), above max_null_share 5%", or
// returns "" when they do not (or nothing was read, or the check is not
// declared). It is safe to call on a nil *FactChecks.
func (c *FactChecks) NullShare(nulls, rows int) string {
	if c == nil || c.MaxNullShare == nil || rows <= 0 {
		return ""
	}
	share := float64(nulls) / float64(rows)
	if share <= *c.MaxNullShare {
		return ""
	}
	return fmt.Sprintf("%s of values are null (%d of %d), above max_null_share %s", FormatShare(share), nulls, rows, FormatShare(*c.MaxNullShare))
}

// String lists the declared checks as the rule file writes them, such as
// "min 0, max 10000000, unique" or "one_of [online, store, partner],
// max_null_share 5%"; "" for none (or a nil *FactChecks).
func (c *FactChecks) String() string {
	if c == nil {
		return ""
	}
	var parts []string
	switch {
	case c.Min != nil:
		parts = append(parts, "min "+formatNumber(*c.Min))
	case c.MinTime != nil:
		parts = append(parts, "min "+formatTime(*c.MinTime))
	}
	switch {
	case c.Max != nil:
		parts = append(parts, "max "+formatNumber(*c.Max))
	case c.MaxTime != nil:
		parts = append(parts, "max "+formatTime(*c.MaxTime))
	}
	if c.OneOf != nil {
		parts = append(parts, "one_of ["+c.oneOfList()+"]")
	}
	if c.Unique {
		parts = append(parts, "unique")
	}
	if c.MaxNullShare != nil {
		parts = append(parts, "max_null_share "+FormatShare(*c.MaxNullShare))
	}
	return strings.Join(parts, ", ")
}

func (c *FactChecks) allows(v any) bool {
	x, isNum := toFloat(v)
	for _, ok := range c.OneOf {
		if y, yNum := toFloat(ok); isNum && yNum {
			if x == y {
				return true
			}
		} else if ok == v {
			return true
		}
	}
	return false
}

// oneOfList writes the allowed values for a message, the first few only.
func (c *FactChecks) oneOfList() string {
	const shown = 8
	parts := make([]string, 0, min(len(c.OneOf), shown)+1)
	for i, v := range c.OneOf {
		if i == shown {
			parts = append(parts, fmt.Sprintf("... (%d in all)", len(c.OneOf)))
			break
		}
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}

func (c *FactChecks) empty() bool {
	return c.Min == nil && c.Max == nil && c.MinTime == nil && c.MaxTime == nil && c.OneOf == nil && !c.Unique && c.MaxNullShare == nil
}

// ParseShare parses a share as rule files write it: a percentage ("5%",
// "0.5%") or a fraction ("0.05"), from 0 to 100% (1).
func ParseShare(s string) (float64, error) {
	s = strings.TrimSpace(s)
	num, pct := strings.CutSuffix(s, "%")
	x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%q is not a share (write a percentage such as 5%% or a fraction such as 0.05)", s)
	}
	if pct {
		x /= 100
	}
	switch {
	case x < 0:
		return 0, fmt.Errorf("%q is negative; a share is from 0%% to 100%%", s)
	case x > 1 && !pct:
		return 0, fmt.Errorf("%q is more than 1 (write %s%% for a percentage, or a fraction from 0 to 1)", s, num)
	case x > 1:
		return 0, fmt.Errorf("%q is more than 100%%", s)
	}
	return x, nil
}

// FormatShare writes a share from 0 to 1 as a percentage: 0.05 is "5%".
func FormatShare(x float64) string {
	pct := math.Round(x*100*1e6) / 1e6
	return strconv.FormatFloat(pct, 'f', -1, 64) + "%"
}

func formatNumber(x float64) string {
	if math.Abs(x) < 1e21 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

func formatCheckValue(v any) string {
	if s, ok := v.(string); ok {
		if r := []rune(s); len(r) > 40 {
			s = string(r[:40]) + "..."
		}
		return strconv.Quote(s)
	}
	if x, ok := toFloat(v); ok {
		return formatNumber(x)
	}
	return fmt.Sprint(v)
}
