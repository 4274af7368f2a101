package engine_test

import (
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// retailFile is the example rule set the tests and benchmarks share.
const retailFile = "../examples/retail/retail.yaml"

// compile compiles an inline rule set, failing the test on any error.
func compile(t testing.TB, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("test.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatalf("compile:\n%v", err)
	}
	return rs
}

// loadRetail compiles examples/retail/retail.yaml with its test file.
func loadRetail(t testing.TB) *rules.RuleSet {
	t.Helper()
	src, err := os.ReadFile(retailFile)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(rules.TestFileFor(retailFile))
	if err != nil {
		t.Fatal(err)
	}
	opts := rules.Options{Tests: &rules.TestSource{File: rules.TestFileFor(retailFile), Src: tests}}
	rs, err := rules.Compile(retailFile, src, opts)
	if err != nil {
		t.Fatalf("compile %s:\n%v", retailFile, err)
	}
	return rs
}

// date parses "2006-01-02" in UTC.
func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// in describes one customer by names, as tests write it.
type in struct {
	facts map[string]any
	// prev holds previous assignments by segmentation name.
	prev map[string]engine.Assignment
	// last holds when actions were last queued, by action name.
	last map[string]time.Time
}

// customer builds the engine input in describes, coercing facts through
// the schema so tests can write 100 for a number fact.
func customer(t testing.TB, rs *rules.RuleSet, key string, c in) *engine.Customer {
	t.Helper()
	row, err := rs.Facts.Row(c.facts)
	if err != nil {
		t.Fatalf("facts of %s: %v", key, err)
	}
	out := &engine.Customer{Key: key, Facts: row}
	if c.prev != nil {
		out.State.Segments = make([]engine.Assignment, len(rs.Segmentations))
		for name, a := range c.prev {
			_, i := rs.Segmentation(name)
			if i < 0 {
				t.Fatalf("no segmentation %q", name)
			}
			out.State.Segments[i] = a
		}
	}
	if c.last != nil {
		out.State.LastActions = make([]time.Time, len(rs.Actions))
		for name, at := range c.last {
			_, i := rs.Action(name)
			if i < 0 {
				t.Fatalf("no action %q", name)
			}
			out.State.LastActions[i] = at
		}
	}
	return out
}

// decision returns the decision for the segmentation called name.
func decision(t testing.TB, rs *rules.RuleSet, res *engine.Result, name string) engine.Decision {
	t.Helper()
	_, i := rs.Segmentation(name)
	if i < 0 || i >= len(res.Segments) {
		t.Fatalf("no decision for segmentation %q", name)
	}
	return res.Segments[i]
}

// segments returns the new segment of every segmentation, by name.
func segments(rs *rules.RuleSet, res *engine.Result) map[string]string {
	out := map[string]string{}
	for i, s := range rs.Segmentations {
		out[s.Name] = res.Segments[i].Segment
	}
	return out
}

// actionNames lists the queued actions' names in result order.
func actionNames(res *engine.Result) []string {
	var out []string
	for _, q := range res.Actions {
		out = append(out, q.Name)
	}
	return out
}

// snapshot deep-copies a result, with empty slices as nil, so results
// from fresh and reused Result values compare with reflect.DeepEqual.
func snapshot(res *engine.Result) engine.Result {
	out := engine.Result{Left: res.Left}
	if len(res.Segments) > 0 {
		out.Segments = slices.Clone(res.Segments)
	}
	for _, q := range res.Actions {
		q.Payload = maps.Clone(q.Payload)
		out.Actions = append(out.Actions, q)
	}
	if len(res.Errors) > 0 {
		out.Errors = slices.Clone(res.Errors)
	}
	return out
}

// cloneCustomer deep-copies a customer, to check evaluation leaves its
// input alone.
func cloneCustomer(c *engine.Customer) *engine.Customer {
	return &engine.Customer{
		Key:   c.Key,
		Facts: slices.Clone(c.Facts),
		State: engine.State{
			Segments:    slices.Clone(c.State.Segments),
			LastActions: slices.Clone(c.State.LastActions),
		},
	}
}
