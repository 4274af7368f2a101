package rules

import (
	"testing"
	"unicode/utf8"
)

// FuzzDerived feeds declarations to the derived-fact compiler: it never
// panics, and an error is at an offset inside the declaration.
func FuzzDerived(f *testing.F) {
	for _, s := range []string{
		"sum(amount, last 365d)", "sum(amount, 365d..730d before)", `count(last 30d, category in ["a", "b"])`,
		`max(quantity, category = "x")`, "pct_rank(spend)", "ntile(spend, 5)", "rfm(last, n, spend, 3)",
		"abc(spend, [0.8, 0.95])", "expected_purchases(90d)", "p_alive()", "sum(", `count(category in ["`, "1..2", "",
	} {
		f.Add(s)
	}
	tx := &Transactions{Key: "k", Time: "t", Amount: "a", Quantity: "q", Category: "c"}
	before := []Field{{Name: "spend", Type: TypeNumber}, {Name: "n", Type: TypeInteger}, {Name: "last", Type: TypeTime, Nullable: true}}
	f.Fuzz(func(t *testing.T, src string) {
		d, _, _, err := compileDerivation(src, tx, before)
		if err != nil {
			if err.off < 0 || err.off > utf8.RuneCountInString(src) || err.msg == "" {
				t.Fatalf("%q: error %q at %d", src, err.msg, err.off)
			}
			return
		}
		if d == nil || d.Source == "" {
			t.Fatalf("%q: no derivation and no error", src)
		}
	})
}
