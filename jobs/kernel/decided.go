package kernel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// DecideSQL is what a dialect on which rules/sqlexpr's translations run
// (PostgreSQL) supplies for an incremental read to let the database
// decide who is unchanged (decidedSQL).
type DecideSQL struct {
	// Fact is how the decision reads fact f from the source's column
	// expr (of type col, nil when not described): the value as the
	// engine sees it, and the condition that a non-null value converts
	// without a fact error; false where SQL cannot tell (a value the
	// engine's conversion may refuse in ways SQL cannot foretell).
	Fact func(expr string, f rules.Field, col *Column) (value, valid string, ok bool)
	// Time is t as a constant of the type of the state's times.
	Time func(t time.Time) string
	// Sample is the condition on a customer's key (a text expression)
	// that it is among the few whose decision a run at asOf checks
	// against the engine's: about one in SampleOf, another share each
	// day.
	Sample func(key string, asOf time.Time) string
	// Part is the condition on a customer's key that it is in part p of
	// n; Parts how many parts a read that decides every customer is split
	// into, each run on a connection of its own (the database evaluates
	// one query on one core). Nil or under 2: one query.
	Part  func(key string, n, p int) string
	Parts int
	// Fault reports whether err is the database refusing the statement
	// itself (a data exception, a syntax error): what a wrong translation
	// would raise, as a lost connection would not.
	Fault func(err error) bool
}

// SampleOf is how many customers the database decides unchanged for
// each one a run reads all the same, to check the decision against the
// engine's (engine.Customer.Settled).
const SampleOf = 64

// decidedSQL is the condition on a source row src joined to its whole
// state row st, read at as-of $1, that the rules leave the customer
// exactly as the state row has it (sqlexpr.Unchanged): no move, no
// pending downgrade started or ended, no action that fires, no rule or
// fact error. An incremental read that
// leaves such customers unread, on top of those whose marks say they are
// asleep, gives the run the same outcome: they are what jobs.Unread says
// of unread customers. Their marks stay as they are: a mark whose digest
// differs from the facts, or whose wake-up time has come, makes the next
// run read the customer again, so nothing is ever trusted that this run
// did not check. Only rows with a digest in their mark qualify, as only
// those are counted among the state's (changedCounts), and not those
// whose mark wakes them on every run: a first run's customers (whose
// actions it dropped) get their first mark from the engine, after which
// the marks leave most of them unread on the nights that follow.
//
// why says, when cond is "", why the database cannot decide for this
// rule set: an expression has no exact translation, a fact is converted
// in Go; it is "" too where the dialect has no translation (SQLite).
func decidedSQL(d *Dialect, rs *rules.RuleSet, lay *Layout, cols []Column, asOf time.Time) (cond, why string, err error) {
	c, converts, why := ruleCustomer(d, rs, lay, cols, asOf, true)
	if c == nil {
		return "", why, nil
	}
	unchanged, err := sqlexpr.Unchanged(rs, *c)
	var u *sqlexpr.Unsupported
	if errors.As(err, &u) {
		return "", u.Field + ": " + u.Reason, nil
	}
	if err != nil {
		return "", "", err
	}
	clean := "st.customer_key IS NOT NULL AND st.facts_digest IS NOT NULL AND (st.wake_at IS NULL OR st.wake_at <> " + d.Decide.Time(engine.EveryRun) + ")" +
		" AND " + converts
	// CASE, whose order PostgreSQL keeps: the conditions see only the
	// facts the engine would evaluate.
	cond = "CASE WHEN " + clean + " THEN " + unchanged + " ELSE FALSE END"
	if decidedHook != nil {
		cond = decidedHook(cond)
	}
	return cond, "", nil
}

// ruleCustomer is how a statement on a source row src joined to its
// state row st, at as-of $1, reads a customer of rs (sqlexpr.Customer):
// its facts read once each, in a prelude, its previous assignments and
// its last-action times from the state row; and converts, the condition
// that every fact converts as the engine would have it (no NULL in a
// non-nullable fact, a value of the fact's type). c is nil, and why says
// why, where the rule set or the source rules a translation out; why is
// "" too where the dialect has none (SQLite). A segmentation the layout
// has no position for yet (no run has assigned it) rules it out where
// needState is set, and otherwise leaves everyone without a previous
// segment there, as on a first run.
func ruleCustomer(d *Dialect, rs *rules.RuleSet, lay *Layout, cols []Column, asOf time.Time, needState bool) (c *sqlexpr.Customer, converts, why string) {
	if d.Decide == nil {
		return nil, "", "" // the dialect has no exact translation: nothing to say
	}
	if rs.HasDerived() {
		return nil, "", "derived facts are computed in Go"
	}
	if asOf.Nanosecond()%1000 != 0 {
		return nil, "", "the as-of time has a fraction of a microsecond, which the database's times do not keep"
	}
	byName := make(map[string]*Column, len(cols))
	for i := range cols {
		byName[cols[i].Name] = &cols[i]
	}
	scope := map[string]sqlexpr.Column{
		rules.AsOfVar:     {SQL: "$1::timestamptz", Kind: sqlexpr.Time},
		rules.AsOfDateVar: {SQL: d.Decide.Time(rules.DateIn(asOf, rs.Zone())), Kind: sqlexpr.Time},
	}
	conds := []string{"TRUE"}
	var prelude []string
	for _, f := range rs.Facts.Fields {
		col := "src." + QuoteIdent(f.Name)
		value, valid, ok := d.Decide.Fact(col, f, byName[f.Name])
		if !ok {
			return nil, "", fmt.Sprintf("facts.%s is converted in Go, so the database cannot tell whether it converts", f.Name)
		}
		switch {
		case f.Nullable && valid == "TRUE":
		case f.Nullable:
			conds = append(conds, "("+col+" IS NULL OR "+valid+")")
		case valid == "TRUE":
			conds = append(conds, col+" IS NOT NULL")
		default:
			conds = append(conds, col+" IS NOT NULL AND "+valid)
		}
		// Read once, in the prelude: a numeric's cast to float8 goes
		// through its text, and the conditions read a fact many times.
		alias := "f" + strconv.Itoa(len(prelude))
		prelude = append(prelude, value+" AS "+alias)
		scope[f.Name] = sqlexpr.Column{SQL: "tf_f." + alias, Kind: sqlexpr.FactKind(f.Type), Nullable: f.Nullable}
	}
	c = &sqlexpr.Customer{
		Facts:   func(name string) (sqlexpr.Column, bool) { col, ok := scope[name]; return col, ok },
		AsOf:    "$1::timestamptz",
		Prelude: prelude,
	}
	for _, s := range rs.Segmentations {
		p := lay.Segment(s.Name)
		if p == 0 && needState {
			return nil, "", "segmentation " + s.Name + " has no state yet"
		}
		if p == 0 {
			c.State = append(c.State, sqlexpr.Previous{Segment: "NULL::text", Since: "NULL::timestamptz", PendingSince: "NULL::timestamptz"})
			continue
		}
		c.State = append(c.State, sqlexpr.Previous{
			Segment:      d.State.Elem("st.segments", p),
			Since:        d.State.Elem("st.since", p),
			PendingSince: d.State.Elem("st.pending_since", p),
		})
	}
	for _, a := range rs.Actions {
		last := "NULL::timestamptz"
		if p := lay.LastAction(a.Name); p > 0 {
			last = d.State.Elem("st.action_at", p)
		}
		c.LastAction = append(c.LastAction, last)
	}
	if len(conds) > 1 {
		conds = conds[1:]
	}
	return c, strings.Join(conds, " AND "), ""
}

// decidedHook, when a test sets it (SetDecidedHook), rewrites the
// decision, to check that a wrong one is caught; nil otherwise.
var decidedHook func(cond string) string
