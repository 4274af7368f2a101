package views

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
)

// Thousands formats n with thousands separators: 1,234,567.
func Thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// signed formats a change: +1,234, 0 or -56.
func signed(n int) string {
	if n > 0 {
		return "+" + Thousands(n)
	}
	if n == 0 {
		return "0"
	}
	return Thousands(n)
}

// pct formats n as a share of total: 12.34%.
func pct(n, total int) string {
	if total == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", float64(n)*100/float64(total))
}

// pad right-pads s to width display columns, so tables line up even with
// wide characters such as 客户.
func pad(s string, width int) string {
	if w := runewidth.StringWidth(s); w < width {
		return s + strings.Repeat(" ", width-w)
	}
	return s
}

// displayWidth is the number of terminal columns s takes.
func displayWidth(s string) int { return runewidth.StringWidth(s) }

// labelled shows a name with its display label: "零售客户分群 (retail)".
func labelled(name, label string) string {
	if label == "" || label == name {
		return name
	}
	return fmt.Sprintf("%s (%s)", label, name)
}

// orNone shows a missing segment as (none).
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// reasonText shows how a segment was decided for people: "left" (a
// customer no source returns any more, under on_missing: exit) reads
// "left the source"; the other reasons as they are.
func reasonText(reason string) string {
	if reason == "left" {
		return "left the source"
	}
	return reason
}

// formatValue renders a fact or payload value for people.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case time.Time:
		if x.IsZero() {
			return "0001-01-01"
		}
		if x.Equal(x.Truncate(24 * time.Hour)) {
			return x.Format("2006-01-02")
		}
		return x.Format(time.RFC3339)
	case string:
		return fmt.Sprintf("%q", x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// sortedKeys returns m's keys in order, so that output never depends on
// map iteration.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
