package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/expr-lang/expr"
)

func TestZZProbe(t *testing.T) {
	env := map[string]any{"t": time.Time{}}
	f := expr.Function("f", func(p ...any) (any, error) { return p[0], nil }, new(func(time.Time) int))
	for _, w := range []string{`f(now())`, `f(today)`, `f(zzz)`, `f(t)`, `f(zzz) + 1`} {
		for _, opts := range [][]expr.Option{
			{expr.Env(env), f},
			{expr.Env(env), f, expr.DisableAllBuiltins()},
			{expr.Env(env), f, expr.DisableAllBuiltins(), expr.EnableBuiltin("len")},
		} {
			p, err := expr.Compile(w, opts...)
			fmt.Printf("%s => err=%v\n", w, err)
			if err == nil {
				fmt.Println(p.Disassemble())
			}
		}
	}
}
