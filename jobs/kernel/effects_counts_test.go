package kernel

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// testDialect writes what effectCountsQuery asks of a dialect in a form
// a test can read back.
var testDialect = &Dialect{
	TimeArg: func(t time.Time) any { return t },
	InKeys: func(expr string, n int, keys []string) (string, any) {
		return expr + " IN ($" + strconv.Itoa(n) + ")", keys
	},
	JSONText: func(expr string, n int, key string) (string, any) {
		return "json(" + expr + ", $" + strconv.Itoa(n) + ")", key
	},
	AddDays: func(expr string, days int) string { return "days(" + expr + ", " + strconv.Itoa(days) + ")" },
}

// The counts' statement binds every argument it is given, and only
// those: one placeholder per segmentation's key, and a day per horizon.
func TestEffectCountsQueryBindsItsArguments(t *testing.T) {
	e := &EffectsSQL{Dialect: testDialect, Tables: Tables{Actions: "acts", History: "hist"}}
	q, args := e.effectCountsQuery(jobs.EffectCountsQuery{RuleSet: "r", Actions: []string{"call"}, From: time.Unix(0, 0),
		Until: time.Unix(100, 0), Latest: time.Unix(200, 0), Horizons: []int{7, 30}, Segmentations: []string{"tier", "life"}})
	if len(args) != 9 {
		t.Fatalf("%d arguments %v; want 7 and one per segmentation", len(args), args)
	}
	if args[3] != time.Unix(200, 0) {
		t.Errorf("decisions read until %v; want the latest run, after the period's end", args[3])
	}
	used := map[int]bool{}
	for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(q, -1) {
		n, _ := strconv.Atoi(m[1])
		used[n] = true
	}
	for n := 1; n <= len(args); n++ {
		if !used[n] {
			t.Errorf("$%d (%v) is not in the statement", n, args[n-1])
		}
	}
	if len(used) != len(args) {
		t.Errorf("the statement has placeholders %v for %d arguments", used, len(args))
	}
	for _, want := range []string{"json(segments, $8)", "json(segments, $9)", "days(first_at, 7) AS end0", "days(first_at, 30) AS end1",
		"days($5, -7)", "days($5, -30)", "acts", "hist", "observed1", "spent1"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(q) {
			t.Errorf("the statement has no %s:\n%s", want, q)
		}
	}
}

// Nothing to compare asks the database nothing.
func TestEffectCountsWithoutActions(t *testing.T) {
	e := &EffectsSQL{Dialect: testDialect}
	for _, q := range []jobs.EffectCountsQuery{{Horizons: []int{30}}, {Actions: []string{"call"}}} {
		if err := e.EffectCounts(context.Background(), q, nil); err != nil {
			t.Errorf("%+v: %v", q, err)
		}
	}
}
