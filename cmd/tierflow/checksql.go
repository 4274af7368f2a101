package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// printExplainSQL writes, for each rule set, which of its expressions
// have an exact PostgreSQL translation (with the translation's three
// parts), and for the others the construct and the reason they run in
// the engine only.
func printExplainSQL(w io.Writer, sets []*rules.RuleSet) {
	for _, rs := range sets {
		xs := sqlexpr.Explain(rs)
		n := sqlexpr.Translated(xs)
		fmt.Fprintf(w, "%s (%s): %d of %d expressions translate to SQL exactly", rs.Name, rs.File, n, len(xs))
		if n < len(xs) {
			verb := " run"
			if len(xs)-n == 1 {
				verb = " runs"
			}
			fmt.Fprintf(w, "; %s%s in the engine only", plural(len(xs)-n, "expression"), verb)
		}
		fmt.Fprintln(w)
		for _, x := range xs {
			if x.Err != nil {
				fmt.Fprintf(w, "  engine  %s\n", strings.ReplaceAll(x.Err.Error(), "\n", "\n          "))
				continue
			}
			fmt.Fprintf(w, "  sql     %s: %s: %s\n", x.Expr.Pos, x.Expr.Field, x.Expr.Source)
			fmt.Fprintf(w, "          value (%s): %s\n", x.SQL.Kind, x.SQL.Value)
			if x.SQL.Error != "FALSE" {
				fmt.Fprintf(w, "          rule error when: %s\n", x.SQL.Error)
			}
			if x.SQL.Inexact != "FALSE" {
				fmt.Fprintf(w, "          left to the engine when: %s\n", x.SQL.Inexact)
			}
		}
	}
}
