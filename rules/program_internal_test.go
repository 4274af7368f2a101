package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
)

// compileProgram repeats expr.Compile's steps so that it can inspect the
// typed tree; it must make the same program. This compiles every
// expression of the examples both ways and compares the bytecode.
func TestCompileProgramMatchesExpr(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../examples/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		l := &loader{file: path, src: src}
		rs := l.compile(src, Options{})
		if rs == nil || l.failed() {
			continue // a test file
		}
		c := newExprCompiler(l, rs.Facts, rs.Params, rs.Segmentations)
		each := func(x *Expr) {
			n++
			opts := func() []expr.Option {
				return append([]expr.Option{expr.Patch(&macroVisitor{c: c, src: x.Source}), expr.Patch(recheckCalls{})}, c.options...)
			}
			want, err := expr.Compile(x.Source, opts()...)
			if err != nil {
				t.Fatalf("%s: expr.Compile: %v", x.Field, err)
			}
			got, err := compileProgram(x.Source, opts(), func(ast.Node, *conf.Config) bool { return true })
			if err != nil {
				t.Fatalf("%s: compileProgram: %v", x.Field, err)
			}
			if got.Disassemble() != want.Disassemble() {
				t.Errorf("%s: programs differ\n--- compileProgram\n%s\n--- expr.Compile\n%s", x.Field, got.Disassemble(), want.Disassemble())
			}
		}
		for _, s := range rs.Segmentations {
			for _, seg := range s.Segments {
				if seg.When != nil {
					each(seg.When)
				}
			}
		}
		for _, a := range rs.Actions {
			each(a.When)
			for _, p := range a.Payload {
				if p.Expr != nil {
					each(p.Expr)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("compared %d expressions; the examples have more", n)
	}
}
