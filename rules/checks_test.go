package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

const checkedFacts = `
ruleset: checked
facts:
  spend_12m: {type: number, min: 0, max: 10000000}
  orders: {type: integer, min: 1, one_of: [1, 2, 3]}
  channel: {type: string, one_of: [online, store, partner]}
  email: {type: "string?", unique: true}
  last_order_at:
    type: time?
    min: 2000-01-01
    max: "2030-06-30T12:00:00Z"
    max_null_share: 5%
  score: {type: number, nullable: true, max_null_share: 0.25}
  plain: {type: number, label: no checks}
segmentations:
  - name: tier
    segments:
      - name: gold
        when: spend_12m > 0 && orders > 0 && channel != "" && email != nil && last_order_at != nil && score != nil && plain > 0
      - name: basic
        fallback: true
`

func ptr[T any](v T) *T { return &v }

// The long form of a fact declares its checks; Compile keeps them on the
// field, as the fact's Go types, and a fact without checks has none.
func TestFactChecksCompiled(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, checkedFacts)
	want := map[string]*rules.FactChecks{
		"spend_12m":     {Min: ptr(0.0), Max: ptr(1e7)},
		"orders":        {Min: ptr(1.0), OneOf: []any{1, 2, 3}},
		"channel":       {OneOf: []any{"online", "store", "partner"}},
		"email":         {Unique: true},
		"last_order_at": {MinTime: ptr(date("2000-01-01")), MaxTime: ptr(time.Date(2030, 6, 30, 12, 0, 0, 0, time.UTC)), MaxNullShare: ptr(0.05)},
		"score":         {MaxNullShare: ptr(0.25)},
		"plain":         nil,
	}
	for _, f := range rs.Facts.Fields {
		if !reflect.DeepEqual(f.Checks, want[f.Name]) {
			t.Errorf("%s: checks = %+v, want %+v", f.Name, f.Checks, want[f.Name])
		}
	}
	if f, _, _ := rs.Facts.Lookup("email"); !f.Nullable || f.Type != rules.TypeString {
		t.Errorf("email = %+v, want a nullable string", f)
	}
	strs := map[string]string{
		"spend_12m":     "min 0, max 10000000",
		"orders":        "min 1, one_of [1, 2, 3]",
		"channel":       "one_of [online, store, partner]",
		"email":         "unique",
		"last_order_at": "min 2000-01-01, max 2030-06-30T12:00:00Z, max_null_share 5%",
		"score":         "max_null_share 25%",
		"plain":         "",
	}
	for _, f := range rs.Facts.Fields {
		if got := f.Checks.String(); got != strs[f.Name] {
			t.Errorf("%s: String() = %q, want %q", f.Name, got, strs[f.Name])
		}
	}
}

func TestFactChecksViolation(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, checkedFacts)
	checks := func(name string) *rules.FactChecks {
		f, _, ok := rs.Facts.Lookup(name)
		if !ok {
			t.Fatalf("no fact %q", name)
		}
		return f.Checks
	}
	tests := []struct {
		fact string
		v    any
		want string
	}{
		{"spend_12m", 12.5, ""},
		{"spend_12m", 0.0, ""},
		{"spend_12m", 1e7, ""},
		{"spend_12m", -5.0, "-5 is below min 0"},
		{"spend_12m", 12000000.5, "12000000.5 is above max 10000000"},
		{"spend_12m", nil, ""},
		{"orders", 2, ""},
		{"orders", 0, "0 is below min 1"},
		{"orders", 4, "4 is not one of 1, 2, 3"},
		{"orders", int64(3), ""},
		{"channel", "store", ""},
		{"channel", "web", `"web" is not one of online, store, partner`},
		{"channel", "Store", `"Store" is not one of online, store, partner`},
		{"email", "a@example.com", ""},
		{"last_order_at", date("2024-06-20"), ""},
		{"last_order_at", date("2000-01-01"), ""},
		{"last_order_at", date("1999-12-31"), "1999-12-31 is before min 2000-01-01"},
		{"last_order_at", time.Date(2030, 6, 30, 12, 0, 1, 0, time.UTC), "2030-06-30T12:00:01Z is after max 2030-06-30T12:00:00Z"},
		{"last_order_at", nil, ""},
		{"plain", -1.0, ""},
	}
	for _, tt := range tests {
		if got := checks(tt.fact).Violation(tt.v); got != tt.want {
			t.Errorf("%s: Violation(%v) = %q, want %q", tt.fact, tt.v, got, tt.want)
		}
	}
}

// A long one_of list is cut in messages; the value is quoted and cut too.
func TestFactChecksViolationLongList(t *testing.T) {
	t.Parallel()
	c := &rules.FactChecks{OneOf: []any{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}}
	want := `"` + strings.Repeat("x", 40) + `..." is not one of a, b, c, d, e, f, g, h, ... (10 in all)`
	if got := c.Violation(strings.Repeat("x", 50)); got != want {
		t.Errorf("Violation = %q, want %q", got, want)
	}
}

func TestFactChecksNullShare(t *testing.T) {
	t.Parallel()
	c := &rules.FactChecks{MaxNullShare: ptr(0.05)}
	tests := []struct {
		nulls, rows int
		want        string
	}{
		{0, 100, ""},
		{5, 100, ""},
		{150, 2000, "7.5% of values are null (150 of 2000), above max_null_share 5%"},
		{1, 1, "100% of values are null (1 of 1), above max_null_share 5%"},
		{0, 0, ""},
	}
	for _, tt := range tests {
		if got := c.NullShare(tt.nulls, tt.rows); got != tt.want {
			t.Errorf("NullShare(%d, %d) = %q, want %q", tt.nulls, tt.rows, got, tt.want)
		}
	}
	var none *rules.FactChecks
	if got := none.NullShare(100, 100); got != "" {
		t.Errorf("nil checks: NullShare = %q", got)
	}
	if got := none.Violation(-1.0); got != "" {
		t.Errorf("nil checks: Violation = %q", got)
	}
	if got := (&rules.FactChecks{Unique: true}).NullShare(100, 100); got != "" {
		t.Errorf("no max_null_share: NullShare = %q", got)
	}
}

func TestParseShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"5%", 0.05, ""},
		{" 0.5 % ", 0.005, ""},
		{"0.05", 0.05, ""},
		{"0", 0, ""},
		{"100%", 1, ""},
		{"1", 1, ""},
		{"5", 0, `"5" is more than 1 (write 5% for a percentage`},
		{"120%", 0, `"120%" is more than 100%`},
		{"-1%", 0, `"-1%" is negative`},
		{"abc%", 0, `"abc%" is not a share`},
		{"", 0, `"" is not a share`},
		{"NaN", 0, `"NaN" is not a share`},
	}
	for _, tt := range tests {
		got, err := rules.ParseShare(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("ParseShare(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseShare(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for x, want := range map[float64]string{0.05: "5%", 0.075: "7.5%", 1: "100%", 0: "0%", 1.0 / 3: "33.333333%"} {
		if got := rules.FormatShare(x); got != want {
			t.Errorf("FormatShare(%v) = %q, want %q", x, got, want)
		}
	}
}

// Checks that do not fit the fact are errors at their position, with a
// hint, and every one is reported.
func TestFactChecksErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		decl string
		want string // the diagnostic without the snippet
	}{
		{"{type: number, min: 10, max: 5}", `test.yaml:4:35: facts.f.max: min 10 is greater than max 5 (swap them, or correct the one that is wrong)`},
		{"{type: time, min: 2024-01-01, max: 2023-01-01}", `test.yaml:4:41: facts.f.max: min 2024-01-01 is later than max 2023-01-01 (swap them, or correct the one that is wrong)`},
		{"{type: string, min: 1}", `test.yaml:4:26: facts.f.min: min applies to number, integer, time and date facts, and "f" is a string (to allow only some texts, use one_of: [a, b])`},
		{"{type: bool, max: 1}", `test.yaml:4:24: facts.f.max: max applies to number, integer, time and date facts, and "f" is a bool (a bool is only ever true or false; remove it)`},
		{"{type: number, min: \"0\"}", `test.yaml:4:26: facts.f.min: "0" is not a number (write a number without quotes, e.g. 0 or 10000000)`},
		{"{type: number, max: .inf}", `test.yaml:4:26: facts.f.max: .inf must be a finite number (leave it out for no bound)`},
		{"{type: time, min: yesterday}", `test.yaml:4:24: facts.f.min: "yesterday" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z) (a time fact's bounds are dates, e.g. 2000-01-01)`},
		{"{type: bool, one_of: [true]}", `test.yaml:4:27: facts.f.one_of: one_of applies to string and integer facts, and "f" is a bool (a bool is only ever true or false; remove one_of)`},
		{"{type: number, one_of: [1, 2]}", `test.yaml:4:29: facts.f.one_of: one_of applies to string and integer facts, and "f" is a number (bound it with min and max instead)`},
		{"{type: integer, one_of: [1, x]}", `test.yaml:4:34: facts.f.one_of: "x" is not a whole number`},
		{"{type: string, one_of: []}", `test.yaml:4:29: facts.f.one_of: one_of lists no values (list the allowed values, e.g. one_of: [online, store])`},
		{"{type: string, one_of: [a, b, a]}", `test.yaml:4:36: facts.f.one_of: "a" is listed twice (the first is on line 4)`},
		{"{type: string, nullable: true, one_of: [a, ~]}", `test.yaml:4:49: facts.f.one_of: one_of values are single values, not null (nulls are allowed by a nullable type (string?) and bounded by max_null_share)`},
		{"{type: time, max_null_share: 5%}", `test.yaml:4:35: facts.f.max_null_share: max_null_share applies to nullable facts, and "f" is not nullable: a null is already an error for every customer (declare the fact nullable (type: time?), or remove max_null_share)`},
		{"{type: \"time?\", max_null_share: 5}", `test.yaml:4:38: facts.f.max_null_share: "5" is more than 1 (write 5% for a percentage, or a fraction from 0 to 1)`},
		{"{type: \"time?\", max_null_share: lots}", `test.yaml:4:38: facts.f.max_null_share: "lots" is not a share (write a percentage such as 5% or a fraction such as 0.05)`},
		{"{type: string, unique: yes}", `test.yaml:4:29: facts.f.unique: "yes" is not true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.decl, func(t *testing.T) {
			t.Parallel()
			src := "ruleset: r\nfacts:\n  n: number\n  f: " + tt.decl + `
segmentations:
  - name: tier
    segments:
      - {name: a, when: n > 0 && f != nil}
      - {name: b, fallback: true}
`
			d := onlyError(t, compileErrors(t, src))
			got, _, _ := strings.Cut(d.String(), "\n")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if d.Snippet == "" {
				t.Errorf("no snippet")
			}
		})
	}
}

// yaml.v3 cannot read a plain value ending in ? inside {...}: the syntax
// error points at the ? and says how to write it.
func TestFlowQuestionMarkHint(t *testing.T) {
	t.Parallel()
	d := onlyError(t, compileErrors(t, "ruleset: r\nfacts:\n  n: number\n  f: {type: time?, max_null_share: 5%}\n"))
	if d.Pos.Line != 4 || d.Pos.Col != 17 || !strings.Contains(d.Hint, `quote it ("time?")`) {
		t.Errorf("got %s", d)
	}
}
