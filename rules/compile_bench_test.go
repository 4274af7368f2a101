package rules_test

import (
	"os"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// BenchmarkCompileRetail measures compiling the retail example: every
// expression, the fast path and its slot programs.
func BenchmarkCompileRetail(b *testing.B) {
	src, err := os.ReadFile("../examples/retail/retail.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rules.Compile("retail.yaml", src, rules.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
