package rules_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

const dday = 24 * time.Hour

// derivedFile is a rule file deriving facts with decls (lines under
// derived:, indented two spaces), read by one segment.
func derivedFile(tx string, decls ...string) string {
	var b strings.Builder
	b.WriteString("ruleset: shop\n")
	b.WriteString(tx)
	b.WriteString("facts:\n  channel: string\n  visits: integer\n  signed_up: date\n")
	b.WriteString("derived:\n")
	for _, d := range decls {
		b.WriteString("  " + d + "\n")
	}
	b.WriteString("segmentations:\n  - name: tier\n    segments:\n      - name: a\n        when: channel == \"x\" && visits > 0 && signed_up == date(\"2024-01-01\")\n      - name: b\n        fallback: true\n")
	return b.String()
}

// Every function compiles into the fact type and derivation the docs
// give, after the declared facts, in file order.
func TestDerivedFacts(t *testing.T) {
	t.Parallel()
	src := derivedFile(
		"transactions: {time: at, amount: total, quantity: qty, category: cat}\n",
		"spend_12m: sum(amount, last 365d)",
		"spend_prev: sum(amount, 365d..730d before)",
		"items: sum(quantity, last 52w)",
		"orders_12m: count(last 365d)",
		`books: {derive: 'count(last 365d, category in ["books", "music"])', label: 书}`,
		`toys: 'max(amount, category = "toys")'`,
		"low: min(amount)",
		"avg_order: avg(amount, last 36h)",
		"first_at: first()",
		"last_at: last(last 730d)",
		"gap: days_between_orders()",
		"visit_rank: pct_rank(visits)",
		"spend_q: ntile(spend_12m, 5)",
		"rfm: rfm(last_at, orders_12m, spend_12m)",
		"cls: abc(spend_12m)",
		"cls2: abc(spend_12m, [0.5, 0.9, 0.99])",
		"p_alive: p_alive()",
		"next_90d: expected_purchases(90d)",
		"spend_next: expected_spend()",
	)
	rs, err := rules.Compile("test.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name     string
		typ      rules.Type
		nullable bool
		kind     rules.DerivedKind
		check    func(d *rules.Derivation) bool
	}
	wants := []want{
		{"spend_12m", rules.TypeNumber, false, rules.DerivedTransactions, func(d *rules.Derivation) bool {
			return d.Func == "sum" && d.Column == rules.TxAmount && d.Window == rules.Window{To: 365 * dday}
		}},
		{"spend_prev", rules.TypeNumber, false, rules.DerivedTransactions, func(d *rules.Derivation) bool {
			return d.Window == rules.Window{From: 365 * dday, To: 730 * dday}
		}},
		{"items", rules.TypeNumber, false, rules.DerivedTransactions, func(d *rules.Derivation) bool { return d.Column == rules.TxQuantity }},
		{"orders_12m", rules.TypeInteger, false, rules.DerivedTransactions, func(d *rules.Derivation) bool { return d.Column == rules.TxNone }},
		{"books", rules.TypeInteger, false, rules.DerivedTransactions, func(d *rules.Derivation) bool {
			return reflect.DeepEqual(d.Categories, []string{"books", "music"})
		}},
		{"toys", rules.TypeNumber, true, rules.DerivedTransactions, func(d *rules.Derivation) bool {
			return reflect.DeepEqual(d.Categories, []string{"toys"}) && !d.Window.Bounded()
		}},
		{"low", rules.TypeNumber, true, rules.DerivedTransactions, nil},
		{"avg_order", rules.TypeNumber, true, rules.DerivedTransactions, func(d *rules.Derivation) bool { return d.Window.To == 36*time.Hour }},
		{"first_at", rules.TypeTime, true, rules.DerivedTransactions, nil},
		{"last_at", rules.TypeTime, true, rules.DerivedTransactions, nil},
		{"gap", rules.TypeNumber, true, rules.DerivedTransactions, nil},
		{"visit_rank", rules.TypeNumber, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return reflect.DeepEqual(d.Inputs, []string{"visits"}) }},
		{"spend_q", rules.TypeInteger, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return d.Bins == 5 }},
		{"rfm", rules.TypeString, false, rules.DerivedPopulation, func(d *rules.Derivation) bool {
			return d.Part == rules.RFMCode && d.Group == "rfm" && d.Bins == 5 && reflect.DeepEqual(d.Inputs, []string{"last_at", "orders_12m", "spend_12m"})
		}},
		{"rfm_r", rules.TypeInteger, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return d.Part == rules.RFMRecency && d.Group == "rfm" }},
		{"rfm_f", rules.TypeInteger, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return d.Part == rules.RFMFrequency }},
		{"rfm_m", rules.TypeInteger, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return d.Part == rules.RFMMonetary }},
		{"cls", rules.TypeString, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return reflect.DeepEqual(d.Cuts, []float64{0.8, 0.95}) }},
		{"cls2", rules.TypeString, false, rules.DerivedPopulation, func(d *rules.Derivation) bool { return reflect.DeepEqual(d.Cuts, []float64{0.5, 0.9, 0.99}) }},
		{"p_alive", rules.TypeNumber, true, rules.DerivedPredicted, nil},
		{"next_90d", rules.TypeNumber, true, rules.DerivedPredicted, func(d *rules.Derivation) bool { return d.Horizon == 90*dday }},
		{"spend_next", rules.TypeNumber, true, rules.DerivedPredicted, nil},
	}
	derived := rs.Derived()
	if len(derived) != len(wants) {
		t.Fatalf("%d derived facts, want %d: %v", len(derived), len(wants), rs.Facts.Names())
	}
	for i, w := range wants {
		f := derived[i].Field
		if derived[i].Index != 3+i || f.Name != w.name || f.Type != w.typ || f.Nullable != w.nullable || f.Derived.Kind != w.kind || (w.check != nil && !w.check(f.Derived)) {
			t.Errorf("derived[%d] = %s at %d: %s nullable=%v %+v; want %+v", i, f.Name, derived[i].Index, f.Type, f.Nullable, f.Derived, w)
		}
	}
	if tx := rs.TransactionColumns(); *tx != (rules.Transactions{Key: "customer_id", Time: "at", Amount: "total", Quantity: "qty", Category: "cat", Pos: tx.Pos}) {
		t.Errorf("transactions = %+v", tx)
	}
	if l := derived[4].Field.Label; l != "书" {
		t.Errorf("books label = %q", l)
	}
	base, at := rs.WithoutDerived()
	if got := base.Facts.Names(); !reflect.DeepEqual(got, []string{"channel", "visits", "signed_up"}) || !reflect.DeepEqual(at, []int{0, 1, 2}) {
		t.Errorf("WithoutDerived = %v at %v", got, at)
	}
	if len(rs.Facts.Fields) != 3+len(wants) {
		t.Errorf("WithoutDerived changed the rule set")
	}
}

// Without transactions:, the columns are the defaults; a rule set with
// only population facts reads no transactions.
func TestDerivedDefaults(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, derivedFile("", "spend: sum(amount)", "visit_rank: pct_rank(visits)"))
	if tx := rs.TransactionColumns(); tx.Key != "customer_id" || tx.Time != "ordered_at" || tx.Amount != "amount" || tx.Quantity != "" || tx.Category != "" {
		t.Errorf("default columns = %+v", tx)
	}
	pop := mustCompile(t, derivedFile("", "visit_rank: pct_rank(visits)"))
	if pop.TransactionColumns() != nil {
		t.Errorf("a rule set with only population facts reads transactions")
	}
	plain := mustCompile(t, strings.Replace(derivedFile(""), "derived:\n", "", 1))
	if plain.HasDerived() {
		t.Errorf("a rule set without derived: has derived facts")
	}
	if b, at := plain.WithoutDerived(); b != plain || at != nil {
		t.Errorf("WithoutDerived of a rule set without derived facts is a copy")
	}
}

// Mistakes are reported at the part of the declaration at fault, with a
// hint, all at once.
func TestDerivedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tx, decl string
		want     string // line:col: field: message (hint), the declaration on line 7
	}{
		{"", "a: summ(amount)", `7:6: derived.a: unknown derived-fact function "summ" (did you mean "sum"?)`},
		{"", "a: sum(amont, last 365d)", `7:10: derived.a: unknown column "amont" (did you mean "amount"?)`},
		{"", "a: sum(last 365d)", `7:10: derived.a: sum needs a column: amount, or quantity (name the column it reads: sum(amount, last 365d))`},
		{"", "a: count(amount)", `7:12: derived.a: count reads no column (write count(last 365d))`},
		{"", "a: sum(amount, last 365)", `7:23: derived.a: expected a duration after "last", found "365" (write a duration such as 365d, 52w or 36h)`},
		{"", "a: sum(amount, last 0d)", `7:23: derived.a: "0d" is an empty window (a window is longer than 0)`},
		{"", "a: sum(amount, last 36601d)", `7:23: derived.a: "36601d" is longer than a hundred years (write 365d, 52w or 36h)`},
		{"", "a: sum(amount, 730d..365d before)", `7:18: derived.a: the window 730d..365d before is empty (write the nearer end first: 365d..730d before)`},
		{"", "a: sum(amount, 365d..730d)", `7:28: derived.a: expected "before" after the window, found ")" (write 365d..730d before)`},
		{"", "a: sum(amount, last 1d, last 2d)", `7:27: derived.a: unexpected a window in sum (after the column come an optional window (last 365d, 365d..730d before) and an optional filter (category = "books"); e.g. sum(amount, last 365d))`},
		{"", `a: 'count(category = "x")'`, `7:13: derived.a: the transactions source has no category column (name the category column under transactions:, e.g. transactions: {category: category})`},
		{"transactions: {category: cat}\n", `a: 'count(category == "x", last 1d)'`, ""},
		{"transactions: {category: cat}\n", `a: 'count(category in [])'`, `8:13: derived.a: empty category list (list at least one category)`},
		{"transactions: {category: cat}\n", `a: 'count(category in ["x" "y"])'`, `8:30: derived.a: expected ",", found "y" (separate the categories with commas)`},
		{"", "a: sum(quantity)", `7:10: derived.a: the transactions source has no quantity column (name the quantity column under transactions:, e.g. transactions: {quantity: qty})`},
		{"", "a: pct_rank(visit)", `7:15: derived.a: unknown fact "visit" (did you mean "visits"?)`},
		{"", "a: pct_rank(channel)", `7:15: derived.a: "channel" is a string, not a number (rank a number or an integer fact)`},
		{"", "a: pct_rank(visits, 2)", `7:23: derived.a: pct_rank takes 1 argument, not 2 (write pct_rank(spend_12m))`},
		{"", "a: ntile(visits, 1)", `7:20: derived.a: ntile takes 2 to 100 bins, not 1 (write ntile(spend_12m, 5))`},
		{"", "a: ntile(visits, 2.5)", `7:20: derived.a: expected a whole number of bins, found a number (write ntile(spend_12m, 5))`},
		{"", "a: rfm(signed_up, visits, channel)", `7:29: derived.a: "channel" is a string, not a number (rank a number or an integer fact)`},
		{"", "a: rfm(channel, visits, visits)", `7:10: derived.a: rfm's recency "channel" is a string, not a time, a date or a number (give the last order's time or date (last_order_at), or the days since it)`},
		{"", "a: rfm(signed_up, visits, visits, 10)", `7:37: derived.a: rfm takes 2 to 9 bins, not 10 (write rfm(last_order_at, orders_12m, spend_12m))`},
		{"", "a: abc(visits, [0.9, 0.8])", `7:18: derived.a: cut 2 (0.8) is not above the one before it (0.9) (write the cumulative shares that close each class, increasing, e.g. [0.8, 0.95])`},
		{"", "a: abc(visits, [0, 1])", `7:18: derived.a: cut 1 is 0: each is above 0 and at most 1 (write the cumulative shares that close each class, increasing, e.g. [0.8, 0.95])`},
		{"", "a: expected_purchases()", `7:24: derived.a: expected_purchases takes 1 argument, not 0 (write expected_purchases(90d))`},
		{"", "a: expected_purchases(90)", `7:25: derived.a: expected a duration, found a number (write expected_purchases(90d): the purchases expected in the next 90 days)`},
		{"", "a: p_alive(90d)", `7:14: derived.a: p_alive takes no arguments, not 1 (write p_alive())`},
		{"", "a: sum(amount) + 1", `7:18: derived.a: unexpected "+" (write a call such as sum(amount, last 365d))`},
		{"", "a: sum(amount) sum(amount)", `7:18: derived.a: unexpected "sum" after the call (a derived fact is one call; combine facts in the rules' conditions)`},
		{"", "a: sum", `7:9: derived.a: expected "(", found the end (call it: sum(...))`},
		{"", "channel: count()", `7:3: derived.channel: fact "channel" is already declared (a fact is either declared (facts:, from the facts source) or derived: remove one, or rename it)`},
		{"", "customer_id: count()", `7:3: derived.customer_id: "customer_id" is the rule set's key (the key column identifies customers and is not a fact; rename the derived fact)`},
		{"", "count: count()", `7:3: derived.count: "count" is a reserved name in expressions (rename the fact)`},
		{"", "Spend: count()", `7:3: derived.Spend: "Spend" is not a valid fact name (use lower-case letters, digits and _)`},
		{"", "a: {derive: count(), labl: x}", `7:24: derived.a.labl: unknown key "labl" (did you mean "label"?)`},
		{"", "a: {label: x}", `7:6: derived.a.derive: "derive" is required (e.g. derive: sum(amount, last 365d))`},
		{"", "a: [count()]", `7:6: derived.a: must be a single value, not a list`},
		{"", "visits_r: count()\n  visits: rfm(signed_up, visits, visits)", `8:3: derived.visits: fact "visits" is already declared (a fact is either declared (facts:, from the facts source) or derived: remove one, or rename it)`},
		{"", "o: count()\n  x: rfm(signed_up, o, visits)\n  x_f: count()", `9:3: derived.x_f: fact "x_f" is already declared (a fact is either declared (facts:, from the facts source) or derived: remove one, or rename it)`},
		{"", "x_m: count()\n  x: rfm(signed_up, visits, visits)", `8:3: derived.x: rfm declares fact "x_m", which is already declared or not a valid name (rename the rfm fact: NAME: rfm(...) also makes NAME_r, NAME_f and NAME_m)`},
		{"", "p: p_alive()\n  r: pct_rank(p)", `8:15: derived.r: "p" is a predicted fact; pct_rank reads facts the run has before it ranks anyone (rank a declared fact or one derived from transactions)`},
		{"", "r: pct_rank(later)\n  later: count()", `7:15: derived.r: unknown fact "later" (expected one of: channel, signed_up, visits)`},
		{"transactions: {time: when, amount: when}\n", "a: count()", `1:0`},
	}
	for _, tt := range tests {
		t.Run(tt.decl, func(t *testing.T) {
			t.Parallel()
			src := derivedFile(tt.tx, tt.decl)
			_, err := rules.Compile("test.yaml", []byte(src), rules.Options{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s, got no error", tt.want)
			}
			if tt.want == "1:0" {
				if !strings.Contains(err.Error(), `column "when" is also the transactions' time`) {
					t.Errorf("got %v", err)
				}
				return
			}
			first := err.(rules.ErrorList)[0]
			got := fmt.Sprintf("%d:%d: %s: %s", first.Pos.Line, first.Pos.Col, first.Field, first.Message)
			if first.Hint != "" {
				got += " (" + first.Hint + ")"
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s\n%s", got, tt.want, err)
			}
		})
	}
}

// A rule reading a derived fact that has an error gets no second error.
func TestDerivedBrokenFactNotReportedTwice(t *testing.T) {
	t.Parallel()
	src := strings.Replace(derivedFile("", "spend: summ(amount)"), `channel == "x"`, `spend > 0 && channel == "x"`, 1)
	list := compileErrors(t, src)
	if d := onlyError(t, list); !strings.Contains(d.Message, "summ") {
		t.Errorf("error = %v", d)
	}
}

// A derived fact nothing reads is a warning; one a population fact reads
// is read, and so are the declared facts population facts read; an rfm
// declaration is read when any of its facts is.
func TestDerivedUnusedWarning(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, derivedFile("", "unused: count()", "spend: sum(amount)", "q: ntile(spend, 4)", "o: count()", "x: rfm(signed_up, o, spend)"))
	var got []string
	for _, w := range rs.Warnings {
		got = append(got, w.Field+": "+w.Message)
	}
	want := []string{`derived.unused: derived fact "unused" is never read`, `derived.q: derived fact "q" is never read`, `derived.x: derived fact "x" is never read`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings = %q, want %q", got, want)
	}
	rs = mustCompile(t, strings.Replace(derivedFile("", "o: count()", "x: rfm(signed_up, o, visits)"), `channel == "x"`, `x_f > 2 && channel == "x"`, 1))
	if len(rs.Warnings) != 0 {
		t.Errorf("warnings = %v", rs.Warnings)
	}
}

// A window holds what is after its start and at or before its end, and
// never a time after the as-of.
func TestWindow(t *testing.T) {
	t.Parallel()
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	last := rules.Window{To: 365 * dday}
	prev := rules.Window{From: 365 * dday, To: 730 * dday}
	all := rules.Window{}
	tests := []struct {
		w    rules.Window
		at   time.Time
		want bool
	}{
		{last, asOf, true},
		{last, asOf.Add(time.Nanosecond), false},
		{last, asOf.Add(-365 * dday), false},
		{last, asOf.Add(-365*dday + time.Microsecond), true},
		{prev, asOf.Add(-365 * dday), true},
		{prev, asOf.Add(-365*dday + time.Microsecond), false},
		{prev, asOf.Add(-730 * dday), false},
		{all, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{all, asOf.Add(time.Second), false},
	}
	for _, tt := range tests {
		if got := tt.w.Contains(asOf, tt.at); got != tt.want {
			t.Errorf("%q contains %s = %v, want %v", tt.w, tt.at, got, tt.want)
		}
	}
	for w, s := range map[rules.Window]string{last: "last 365d", prev: "365d..730d before", all: "", {From: 7 * dday}: "before 7d"} {
		if w.String() != s {
			t.Errorf("%#v.String() = %q, want %q", w, w.String(), s)
		}
	}
}

// Test cases give derived facts like declared ones.
func TestDerivedFactsInTests(t *testing.T) {
	t.Parallel()
	src := strings.Replace(derivedFile("", "spend: sum(amount, last 365d)"), `channel == "x"`, `spend >= 100 && channel == "x"`, 1) +
		"tests:\n  - name: big\n    as_of: 2024-07-01\n    facts: {spend: 150, channel: x, visits: 1, signed_up: 2024-01-01}\n    expect: {segments: {tier: a}}\n"
	rs := mustCompile(t, src)
	if len(rs.Tests) != 1 || rs.Tests[0].Facts["spend"] != 150.0 {
		t.Errorf("tests = %+v", rs.Tests)
	}
}

// In a {...} on one line, YAML ends an unquoted call at its first comma:
// the error says to quote it.
func TestDerivedFlowMappingHint(t *testing.T) {
	t.Parallel()
	d := compileErrors(t, derivedFile("", "a: {derive: sum(amount, last 365d), label: x}"))[0]
	if !strings.Contains(d.Hint, `quote the call`) || !strings.Contains(d.Hint, `{derive: "sum(amount, ...)"}`) {
		t.Errorf("hint = %q", d.Hint)
	}
}
