package rules_test

import (
	"errors"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/rules"
)

// mustCompile compiles src and fails the test on any error.
func mustCompile(t *testing.T, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("test.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return rs
}

// compileErrors compiles src, which must fail, and returns the errors.
func compileErrors(t *testing.T, src string) rules.ErrorList {
	t.Helper()
	_, err := rules.Compile("test.yaml", []byte(src), rules.Options{})
	if err == nil {
		t.Fatalf("Compile succeeded; want errors")
	}
	var list rules.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not rules.ErrorList: %v", err, err)
	}
	return list
}

// onlyError returns the single error diagnostic in list.
func onlyError(t *testing.T, list rules.ErrorList) rules.Diagnostic {
	t.Helper()
	var errs []rules.Diagnostic
	for _, d := range list {
		if d.Severity == rules.SeverityError {
			errs = append(errs, d)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1:\n%s", len(errs), list)
	}
	return errs[0]
}

// run evaluates x against env with a fresh VM.
func run(t *testing.T, x *rules.Expr, env map[string]any) (any, error) {
	t.Helper()
	if x == nil || x.Program == nil {
		t.Fatal("expression was not compiled")
	}
	var machine vm.VM
	return machine.Run(x.Program, env)
}
