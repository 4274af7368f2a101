package kernel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// NextStatement is the statement of every customer's whole evaluation of
// rs (sqlexpr.NextOf) at as-of $1, over the source query src joined to
// the customers' state rows as the snapshot joins them: what a set-based
// run will read instead of streaming customers through the engine (runs
// do not read it yet: its test checks it against the engine's apply, and
// BenchmarkApplyRetailIncremental times it). Per customer, in no order:
// its key; engine, whether the customer is for the engine (a fact that
// does not convert, or NextOf's Bad); per segmentation i of rs its
// segment, since and pending-since after the run (s{i}_segment,
// s{i}_since, s{i}_pending); per action k whether it is queued and its
// payload, jsonb, NULL where it is not (a{k}_fires, a{k}_payload). The other columns mean nothing for a customer that is
// for the engine. What a run decides beyond the customer is the run's to
// apply, as it does to the engine's results: a first run queues no
// actions, whatever the column says. Run it in a transaction set up with
// sqlexpr.NextSettings.
//
// why says, where the statement is "", what rules it out: the dialect
// (SQLite), derived facts, a fact converted in Go, or what NextOf
// refuses (contact limits, coverage, holdouts, an expression without an
// exact translation).
func NextStatement(ctx context.Context, q Queryer, d *Dialect, t Tables, rs *rules.RuleSet, src string, asOf time.Time) (stmt, why string, err error) {
	lay, err := ReadLayout(ctx, q, t, rs.Name)
	if err != nil {
		return "", "", err
	}
	w, why, err := wholeOf(ctx, q, d, rs, lay, src, asOf)
	if w == nil {
		return "", why, err
	}
	next, converts := w.next, w.converts
	key, _ := factExprs(d, rs, w.cols)
	sel := []string{key + " AS key", "CASE WHEN " + converts + " THEN " + next.Bad + " ELSE TRUE END AS engine"}
	for i, s := range next.Segmentations {
		p := "s" + strconv.Itoa(i)
		sel = append(sel, s.Segment+" AS "+p+"_segment", s.Since+" AS "+p+"_since", s.PendingSince+" AS "+p+"_pending")
	}
	for k, a := range next.Actions {
		p := "a" + strconv.Itoa(k)
		sel = append(sel, a.Fires+" AS "+p+"_fires", a.Payload+" AS "+p+"_payload")
	}
	join := fmt.Sprintf("LEFT JOIN %s st ON st.ruleset = %s AND st.customer_key = %s", t.State, QuoteLiteral(rs.Name), key)
	return "SELECT " + strings.Join(sel, ", ") + fmt.Sprintf("\nFROM (%s) AS src\n", src) + join + next.From, "", nil
}

// whole is a rule set's whole evaluation over a source query: its
// columns, the customer as the statement reads it, the condition that
// every fact converts, and NextOf's translation.
type whole struct {
	cols     []Column
	c        *sqlexpr.Customer
	converts string
	next     *sqlexpr.Next
}

// wholeOf is the whole evaluation of rs over the source query src at
// asOf, the state read as lay lays it out; nil, and why, where the
// rules or the source rule it out (ruleCustomer, NextOf's Unsupported).
func wholeOf(ctx context.Context, q Queryer, d *Dialect, rs *rules.RuleSet, lay *Layout, src string, asOf time.Time) (*whole, string, error) {
	cols, err := readColumns(ctx, q, d, src)
	if err != nil {
		return nil, "", err
	}
	c, converts, why := ruleCustomer(d, rs, lay, cols, asOf, false)
	if c == nil {
		return nil, cmp.Or(why, d.Name+" has no exact translation of the rules"), nil
	}
	next, err := sqlexpr.NextOf(rs, *c)
	var u *sqlexpr.Unsupported
	if errors.As(err, &u) {
		return nil, u.Field + ": " + u.Reason, nil
	}
	if err != nil {
		return nil, "", err
	}
	return &whole{cols: cols, c: c, converts: converts, next: next}, "", nil
}
