package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// decidedText says whether an incremental run of rs on PostgreSQL lets
// the database decide who is unchanged (docs/operations.md, "Decided in
// the database"), as far as the rules alone tell: the facts' columns
// must be of their own types too, which only a run can see.
func decidedText(rs *rules.RuleSet) string {
	switch {
	case rs.HasCoverage():
		return "no: the rule set has coverage targets, so every run evaluates every customer"
	case rs.HasDerived():
		return "no: derived facts are computed in Go"
	}
	_, err := sqlexpr.Unchanged(rs, explainCustomer(rs))
	return translatesText(err, "yes: an incremental run on PostgreSQL runs the segment and action conditions there and reads only the customers they change (where every fact is a column of its own type)")
}

// wholeText says whether every part of rs's evaluation of a customer
// (sqlexpr.NextOf: decisions, actions with their cooldowns and payloads)
// has an exact translation, which a set-based run in the database needs.
func wholeText(rs *rules.RuleSet) string {
	if rs.HasDerived() {
		return "no: derived facts are computed in Go"
	}
	_, err := sqlexpr.NextOf(rs, explainCustomer(rs))
	return translatesText(err, "yes: every decision, action, cooldown and payload translates (runs still evaluate in the engine; see \"Rules in SQL\" in docs/rules.md)")
}

// explainCustomer is a customer of rs whose facts are the source row's
// columns, with no previous assignment and no action before.
func explainCustomer(rs *rules.RuleSet) sqlexpr.Customer {
	c := sqlexpr.Customer{Facts: sqlexpr.RuleSetScope(rs), AsOf: "$1::timestamptz"}
	for range rs.Segmentations {
		c.State = append(c.State, sqlexpr.Previous{Segment: "NULL::text", Since: "NULL::timestamptz", PendingSince: "NULL::timestamptz"})
	}
	for range rs.Actions {
		c.LastAction = append(c.LastAction, "NULL::timestamptz")
	}
	return c
}

// translatesText is yes where a translation succeeded, or "no: " and
// what stops it.
func translatesText(err error, yes string) string {
	var u *sqlexpr.Unsupported
	switch {
	case errors.As(err, &u):
		return "no: " + u.Field + ": " + u.Reason
	case err != nil:
		return "no: " + err.Error()
	}
	return yes
}

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
		fmt.Fprintf(w, "  in the database: %s\n", decidedText(rs))
		fmt.Fprintf(w, "  whole evaluation in SQL: %s\n", wholeText(rs))
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
