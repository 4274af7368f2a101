package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// TestConfigSourceErrors checks the exact diagnostics of source: and
// sources: settings: positions, caret snippets and hints.
func TestConfigSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{
			name: "source and sources",
			src: `rulesets:
  - rules: a.yaml
    source: customer_facts
    sources:
      - {table: customer_facts}
`,
			want: `tierflow.yaml:4:5: rulesets[0]: source and sources are both set (give one source with source:, or a list under sources: whose first item is the primary source)
   4 |     sources:
     |     ^`,
		},
		{
			name: "sources empty, not a list, items not mappings",
			src: `rulesets:
  - rules: a.yaml
    sources: []
  - rules: b.yaml
    sources: {table: customer_facts}
  - rules: c.yaml
    sources:
      - customer_facts
`,
			want: `tierflow.yaml:3:14: rulesets[0].sources: must list at least one source (list one mapping per source; the first is the primary one)
   3 |     sources: []
     |              ^
tierflow.yaml:5:14: rulesets[1].sources: must be a list, not a mapping (key: value lines) (start each item with "- ")
   5 |     sources: {table: customer_facts}
     |              ^
tierflow.yaml:8:9: rulesets[2].sources[0]: a source in a list must be a mapping (write a mapping such as {name: consent, file: consent.csv, facts: [marketing_consent]})
   8 |       - customer_facts
     |         ^`,
		},
		{
			name: "names and facts of later sources",
			src: `rulesets:
  - rules: a.yaml
    sources:
      - {table: customer_facts}
      - {file: consent.csv}
      - {name: primary, file: consent.csv, facts: [marketing_consent]}
      - {name: Consent, file: c.csv, facts: [x]}
`,
			want: `tierflow.yaml:5:9: rulesets[0].sources[1].name: "name" is required (name each source after the first, e.g. name: consent)
   5 |       - {file: consent.csv}
     |         ^
tierflow.yaml:5:9: rulesets[0].sources[1].facts: "facts" is required (list the facts this source provides, e.g. facts: [marketing_consent]; only the first source may leave facts out and provide the rest)
   5 |       - {file: consent.csv}
     |         ^
tierflow.yaml:6:16: rulesets[0].sources[2].name: source name "primary" is used twice (the first is on line 4) (give each source of a rule set its own name)
   6 |       - {name: primary, file: consent.csv, facts: [marketing_consent]}
     |                ^
tierflow.yaml:7:16: rulesets[0].sources[3].name: "Consent" is not a valid name (use lower-case letters, digits and _, starting with a letter, at most 63 characters)
   7 |       - {name: Consent, file: c.csv, facts: [x]}
     |                ^`,
		},
		{
			name: "facts lists",
			src: `rulesets:
  - rules: a.yaml
    sources:
      - {table: crm.customers, facts: [spend_12m, spend_12m]}
      - {name: spend, table: spend, facts: [spend_12m, Bad]}
      - {name: consent, file: c.csv, facts: marketing_consent}
      - {name: other, file: o.csv, facts: []}
`,
			want: `tierflow.yaml:4:51: rulesets[0].sources[0].facts[1]: fact "spend_12m" is listed twice (list each fact once)
   4 |       - {table: crm.customers, facts: [spend_12m, spend_12m]}
     |                                                   ^
tierflow.yaml:5:45: rulesets[0].sources[1].facts[0]: fact "spend_12m" is already provided by source "primary" (a fact comes from one source: remove it from one of the lists)
   5 |       - {name: spend, table: spend, facts: [spend_12m, Bad]}
     |                                             ^
tierflow.yaml:5:56: rulesets[0].sources[1].facts[1]: "Bad" is not a valid name (use lower-case letters, digits and _, starting with a letter, at most 63 characters)
   5 |       - {name: spend, table: spend, facts: [spend_12m, Bad]}
     |                                                        ^
tierflow.yaml:6:45: rulesets[0].sources[2].facts: must be a list, not a single value (start each item with "- ")
   6 |       - {name: consent, file: c.csv, facts: marketing_consent}
     |                                             ^
tierflow.yaml:7:43: rulesets[0].sources[3].facts: must name at least one fact (list the facts this source provides, e.g. facts: [marketing_consent], or leave facts out of the first source)
   7 |       - {name: other, file: o.csv, facts: []}
     |                                           ^`,
		},
		{
			name: "on_duplicate",
			src: `rulesets:
  - rules: a.yaml
    source: {table: customer_facts, on_duplicate: lastt}
  - rules: b.yaml
    source: {table: customer_facts, on_duplicate: keep}
`,
			want: `tierflow.yaml:3:51: rulesets[0].source.on_duplicate: unknown on_duplicate "lastt" (did you mean "last"?)
   3 |     source: {table: customer_facts, on_duplicate: lastt}
     |                                                   ^
tierflow.yaml:5:51: rulesets[1].source.on_duplicate: unknown on_duplicate "keep" (use error to refuse a source that returns a key twice (the default), or first or last to keep one row of each key)
   5 |     source: {table: customer_facts, on_duplicate: keep}
     |                                                   ^`,
		},
		{
			name: "key",
			src: `rulesets:
  - rules: a.yaml
    source:
      table: customer_facts
      key: {trim: yes, case: lowr, strip_zero: true}
  - rules: b.yaml
    source: {table: customer_facts, key: lower}
  - rules: c.yaml
    source: {table: customer_facts, key: {case: title}}
`,
			want: `tierflow.yaml:5:19: rulesets[0].source.key.trim: "yes" is not true or false
   5 |       key: {trim: yes, case: lowr, strip_zero: true}
     |                   ^
tierflow.yaml:5:30: rulesets[0].source.key.case: unknown key case "lowr" (did you mean "lower"?)
   5 |       key: {trim: yes, case: lowr, strip_zero: true}
     |                              ^
tierflow.yaml:5:36: rulesets[0].source.key.strip_zero: unknown key "strip_zero" (did you mean "strip_zeros"?)
   5 |       key: {trim: yes, case: lowr, strip_zero: true}
     |                                    ^
tierflow.yaml:7:42: rulesets[1].source.key: must be a mapping, not a single value (write how keys are normalised, e.g. key: {trim: true, case: lower, strip_zeros: true}; the key column itself is the rule file's key)
   7 |     source: {table: customer_facts, key: lower}
     |                                          ^
tierflow.yaml:9:49: rulesets[2].source.key.case: unknown key case "title" (use lower or upper, or leave case out to match keys as they are)
   9 |     source: {table: customer_facts, key: {case: title}}
     |                                                 ^`,
		},
		{
			name: "min_rows and max_row_change",
			src: `rulesets:
  - rules: a.yaml
    source: {table: customer_facts, min_rows: -1, max_row_change: 10}
  - rules: b.yaml
    source: {table: customer_facts, min_rows: lots, max_row_change: a tenth}
`,
			want: `tierflow.yaml:3:47: rulesets[0].source.min_rows: must be 0 (no check) or more (write the fewest rows a good load has, e.g. min_rows: 10000)
   3 |     source: {table: customer_facts, min_rows: -1, max_row_change: 10}
     |                                               ^
tierflow.yaml:3:67: rulesets[0].source.max_row_change: "10" is not between 0% and 100%
   3 |     source: {table: customer_facts, min_rows: -1, max_row_change: 10}
     |                                                                   ^
tierflow.yaml:5:47: rulesets[1].source.min_rows: "lots" is not a whole number
   5 |     source: {table: customer_facts, min_rows: lots, max_row_change: a tenth}
     |                                               ^
tierflow.yaml:5:69: rulesets[1].source.max_row_change: "a tenth" is not a share (write 20% or 0.2)
   5 |     source: {table: customer_facts, min_rows: lots, max_row_change: a tenth}
     |                                                                     ^`,
		},
		{
			name: "fresh_within and fresh_fact",
			src: `rulesets:
  - rules: a.yaml
    source: {table: customer_facts, fresh_within: 2d}
  - rules: b.yaml
    source: {file: a.csv, fresh_within: soon}
  - rules: c.yaml
    source: {file: a.csv, fresh_within: 0d}
  - rules: d.yaml
    source: {file: a.csv, fresh_fact: exported_at}
  - rules: e.yaml
    source: {query: SELECT 1, fresh_within: 1d, fresh_fact: Exported}
`,
			want: `tierflow.yaml:3:51: rulesets[0].source.fresh_within: a query or table source needs fresh_fact with fresh_within (name the time fact that dates its rows, e.g. fresh_fact: updated_at; only a file source can be dated by its files)
   3 |     source: {table: customer_facts, fresh_within: 2d}
     |                                                   ^
tierflow.yaml:5:41: rulesets[1].source.fresh_within: "soon" is not a duration (write 30d, 2w or 12h)
   5 |     source: {file: a.csv, fresh_within: soon}
     |                                         ^
tierflow.yaml:7:41: rulesets[2].source.fresh_within: must be longer than 0 (write how old the newest facts may be, e.g. fresh_within: 2d, or leave fresh_within out)
   7 |     source: {file: a.csv, fresh_within: 0d}
     |                                         ^
tierflow.yaml:9:39: rulesets[3].source.fresh_fact: fresh_fact names the time fact fresh_within checks, and fresh_within is not set (add fresh_within: 2d to say how old its newest value may be, or remove fresh_fact)
   9 |     source: {file: a.csv, fresh_fact: exported_at}
     |                                       ^
tierflow.yaml:11:61: rulesets[4].source.fresh_fact: "Exported" is not a valid name (use lower-case letters, digits and _, starting with a letter, at most 63 characters)
  11 |     source: {query: SELECT 1, fresh_within: 1d, fresh_fact: Exported}
     |                                                             ^`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := configErrors(t, tt.src).Error(); got != tt.want {
				t.Errorf("got\n%s\n\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestConfigSourceSettings parses every setting of a source into the
// jobs.Source a run gets.
func TestConfigSourceSettings(t *testing.T) {
	t.Parallel()
	src := `databases:
  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}
rulesets:
  - rules: rules/retail.yaml
    sources:
      - table: crm.customers
        on_duplicate: first
        key: {trim: true, case: lower, strip_zeros: true}
        min_rows: 10000
        max_row_change: 10%
        fresh_within: 2d
        fresh_fact: updated_at
      - name: spend
        database: warehouse
        query: SELECT customer_id, spend_12m FROM spend
        facts: [spend_12m]
      - {name: consent, file: consent.csv, facts: [marketing_consent], fresh_within: 36h, on_duplicate: last}
  - rules: rules/b2b.yaml
    source: {file: accounts.csv, name: accounts}
`
	cfg, err := parseConfig("tierflow.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []jobs.Source
	for _, s := range cfg.RuleSets[0].Sources {
		got = append(got, s.jobsSource(nil))
	}
	want := []jobs.Source{
		{Name: "primary", OnDuplicate: "first", Key: jobs.KeyNormalization{Trim: true, Case: "lower", StripZeros: true},
			MinRows: 10000, MaxRowChange: 0.1, FreshWithin: 48 * time.Hour, FreshFact: "updated_at"},
		{Name: "spend", Provides: []string{"spend_12m"}},
		{Name: "consent", Provides: []string{"marketing_consent"}, FreshWithin: 36 * time.Hour, OnDuplicate: "last"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	fields := []string{}
	for _, s := range cfg.RuleSets[0].Sources {
		fields = append(fields, s.field+" "+s.pos.String())
	}
	if want := []string{"rulesets[0].sources[0] tierflow.yaml:6:9", "rulesets[0].sources[1] tierflow.yaml:13:9", "rulesets[0].sources[2] tierflow.yaml:17:9"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if s := cfg.RuleSets[1].Sources; len(s) != 1 || s[0].jobsSource(nil).Name != "accounts" {
		t.Errorf("a named single source: %+v", s)
	}
}
