package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/rules"
)

// FuzzCompile checks that Compile never panics and always returns either
// a usable rule set or a non-empty ErrorList holding at least one error,
// and never an internal error (a fast path that cannot be built).
// The second input, when not empty, is compiled as a sibling test file.
// Seeds are the examples, every file in testdata/errors and the corpus
// in testdata/fuzz/FuzzCompile (where crashers go too). A rule set that
// compiles must call no method and stay within the cost limits.
func FuzzCompile(f *testing.F) {
	retail, err := os.ReadFile("../examples/retail/retail.yaml")
	if err != nil {
		f.Fatal(err)
	}
	retailTests, err := os.ReadFile("../examples/retail/retail_test.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(retail, retailTests)
	f.Add(retail, []byte{})
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, []byte{})
	}
	f.Fuzz(func(t *testing.T, src, tests []byte) {
		var opts rules.Options
		if len(tests) > 0 {
			opts.Tests = &rules.TestSource{File: "fuzz_test.yaml", Src: tests}
		}
		rs, err := rules.Compile("fuzz.yaml", src, opts)
		if err != nil {
			checkErrorList(t, rs, err)
			return
		}
		checkRuleSet(t, rs)
	})
}

func checkErrorList(t *testing.T, rs *rules.RuleSet, err error) {
	t.Helper()
	if rs != nil {
		t.Fatalf("Compile returned a rule set and an error: %v", err)
	}
	var list rules.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is not a non-empty ErrorList: %#v", err)
	}
	hasError := false
	for _, d := range list {
		hasError = hasError || d.Severity == rules.SeverityError
		if d.Message == "" {
			t.Fatalf("diagnostic without a message: %#v", d)
		}
		if strings.HasPrefix(d.Message, "internal error") {
			t.Fatalf("internal error:\n%s", list)
		}
	}
	if !hasError {
		t.Fatalf("ErrorList holds only warnings:\n%s", list)
	}
	_ = list.Error()
}

// checkRuleSet checks the invariants the engine relies on.
func checkRuleSet(t *testing.T, rs *rules.RuleSet) {
	t.Helper()
	if rs == nil {
		t.Fatal("Compile returned neither a rule set nor an error")
	}
	if rs.Facts == nil || len(rs.Segmentations) == 0 {
		t.Fatalf("rule set without facts or segmentations: %+v", rs)
	}
	seen := make([]bool, len(rs.Segmentations))
	for _, i := range rs.EvalOrder {
		if i < 0 || i >= len(seen) || seen[i] {
			t.Fatalf("EvalOrder %v is not a permutation of %d segmentations", rs.EvalOrder, len(seen))
		}
		seen[i] = true
	}
	if len(rs.EvalOrder) != len(seen) {
		t.Fatalf("EvalOrder %v misses segmentations", rs.EvalOrder)
	}
	for _, s := range rs.Segmentations {
		if s.Fallback != len(s.Segments)-1 || !s.Segments[s.Fallback].Fallback {
			t.Fatalf("segmentation %s: fallback %d of %d segments", s.Name, s.Fallback, len(s.Segments))
		}
		for i, seg := range s.Segments {
			if seg.Rank != i+1 || s.SegmentIndex(seg.Name) != i {
				t.Fatalf("segment %s.%s: rank %d, index %d, position %d", s.Name, seg.Name, seg.Rank, s.SegmentIndex(seg.Name), i)
			}
			if (seg.When == nil) != seg.Fallback || (seg.When != nil && seg.When.Program == nil) {
				t.Fatalf("segment %s.%s: fallback %v, condition %+v", s.Name, seg.Name, seg.Fallback, seg.When)
			}
		}
	}
	for _, a := range rs.Actions {
		if a.When == nil || a.When.Program == nil {
			t.Fatalf("action %s without a compiled condition", a.Name)
		}
	}
	for _, w := range rs.Warnings {
		if w.Severity != rules.SeverityWarning {
			t.Fatalf("error among warnings: %s", w)
		}
	}
	checkExprs(t, rs)
}

// checkExprs checks what the safety check and the cost limits promise of
// every compiled expression: no call of a method or a function value,
// and a cost within the limits.
func checkExprs(t *testing.T, rs *rules.RuleSet) {
	t.Helper()
	var total int64
	eachExpr(rs, func(x *rules.Expr) {
		if x.Cost <= 0 || x.Cost > rules.MaxExprSteps {
			t.Fatalf("%s: cost %d is outside (0, %d]", x.Field, x.Cost, rules.MaxExprSteps)
		}
		total += x.Cost
		for _, op := range x.Program.Bytecode {
			switch op {
			case vm.OpMethod, vm.OpLoadMethod, vm.OpCall, vm.OpCallFast, vm.OpCallTyped:
				t.Fatalf("%s: %q compiled to a program that calls a method or a function value (opcode %d)", x.Field, x.Source, op)
			}
		}
	})
	if total > rules.MaxRuleSetSteps {
		t.Fatalf("total cost %d is over %d", total, rules.MaxRuleSetSteps)
	}
}
