package rules_test

import (
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// conditionSrc is a rule file whose one condition is when.
func conditionSrc(when string) string {
	return `ruleset: shop
facts:
  last_order_at: time
  channel: string
  orders: integer
segmentations:
  - name: tier
    segments:
      - name: probe
        when: ` + quoteYAML(when) + `
      - name: other
        fallback: true
`
}

// Issue 10 item 2: a method of a value could be reached without writing
// x.f(), and made results depend on the host's clock or time zone. These
// expressions compiled before the fix; each must now fail at the part
// that reaches the method.
func TestMethodValuesRejected(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		when string
		at   string // the source the error points at
		want string
	}{
		// The expressions.
		{`let f = as_of.Year; f() > 2000`, "Year", "methods of values cannot be called in rules, and Year is a method of a time"},
		{`let f = as_of.Local; let g = f().Hour; g() == 0`, "Local", "Local is a method of a time"},
		// Every other way to a method value.
		{`(last_order_at | coalesce()).Hour == 0`, "Hour", "Hour could be one: the type of the value is only known when the rule runs"},
		{`any(map([last_order_at], #.Zone), true)`, "Zone", "Zone is a method of a time"},
		{`any([as_of], .Local == nil)`, "Local", "Local is a method of a time"},
		{`{at: as_of.Unix}.at != nil`, "Unix", "Unix is a method of a time"},
		{`[as_of.String][0] != nil`, "String", "String is a method of a time"},
		{`last_order_at?.Local != nil`, "Local", "Local is a method of a time"},
		{`coalesce(as_of).Local != nil`, "Local", "Local could be one"},
		{`[as_of, 1][0]['Location'] != nil`, `['Location']`, "Location could be one"},
		{`[as_of, 1][0][channel] != nil`, "[channel]", "a name computed while the rule runs cannot be looked up"},
		{`(as_of - last_order_at).Hours != nil`, "Hours", "Hours is a method of a duration"},
		{`let d = as_of - last_order_at; let h = d.Hours; h() > 1`, "Hours", "Hours is a method of a duration"},
		{`let y = year; y(as_of) > 2000`, "year", "year is a function and can only be called"},
		{`len([days_since]) > 0`, "days_since", "days_since is a function and can only be called"},
		{`find([1, 2], # > 1) == 2`, "find", "find is not available in rules"},
		{`reduce([1, 2], #acc + #) > 2`, "reduce", "reduce is not available in rules"},
		{`len(sortBy([1, 2], #)) > 0`, "sortBy", "sortBy is not available in rules"},
		{`$env.orders > 1`, "$env", "$env is not available in rules"},
		{`as_of.Local() != nil`, "Local", "methods of values cannot be called in rules"},
	} {
		t.Run(tt.when, func(t *testing.T) {
			t.Parallel()
			src := conditionSrc(tt.when)
			d := onlyError(t, compileErrors(t, src))
			if !strings.Contains(d.Message, tt.want) {
				t.Errorf("message %q does not contain %q", d.Message, tt.want)
			}
			if d.Hint == "" {
				t.Errorf("no hint: %s", d)
			}
			line, col := runePos(src, tt.at)
			if d.Pos.Line != line || d.Pos.Col != col {
				t.Errorf("error at %d:%d, want %d:%d (at %q):\n%s", d.Pos.Line, d.Pos.Col, line, col, tt.at, d)
			}
		})
	}
}

// What the safety check must not reject: field and element reads of
// values whose type is known, or is only known at run time but with a
// lower-case name or an index, and every helper called by name.
func TestSafeExpressionsCompile(t *testing.T) {
	t.Parallel()
	for _, when := range []string{
		`year(as_of) > 2000 && month(last_order_at) == 7`,
		`days_since(last_order_at) > 30 || days_between(last_order_at, as_of) > 30`,
		`{a: orders}.a > 1 && [orders, "x"][0] != nil && {a: [1]}["a"][0] == 1`,
		`[{n: orders}, 1][0].n != nil`,
		`let o = orders; let c = lower(channel); o > 1 && c == "web"`,
		`last_order_at | days_since() > 3`,
		`any(map([1, 2], # * orders), # > 3) && count([channel], # == "web") == 1`,
		`(orders > 1 ? as_of : last_order_at) > last_order_at`,
		`coalesce(nil, orders) != nil && (orders ?? 0) > 1`,
		`orders in 1..10 && channel in ["web", "store"]`,
		`as_of - last_order_at > as_of - as_of`,
	} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			mustCompile(t, conditionSrc(when))
		})
	}
}

// The program expr.Compile would make, and compileProgram makes, must run
// the same: TestCompileProgramMatchesExpr checks the bytecode; this
// checks the rule functions still run through the new pipeline.
func TestHelpersRunAfterSafetyCheck(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, conditionSrc(`days_since(last_order_at) >= 31 && year(last_order_at) == 2024`))
	out, err := run(t, rs.Segmentations[0].Segments[0].When, map[string]any{
		rules.AsOfVar:   date("2024-07-01"),
		"last_order_at": date("2024-05-31"),
		"channel":       "web",
		"orders":        1,
	})
	if err != nil || out != true {
		t.Fatalf("got %v, %v; want true", out, err)
	}
}
