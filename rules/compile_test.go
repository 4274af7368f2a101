package rules_test

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// TestCompileRetail compiles the shipped retail example with its tests.
func TestCompileRetail(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tsrc, err := os.ReadFile("../examples/retail/retail_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("retail.yaml", src, rules.Options{Tests: &rules.TestSource{File: "retail_test.yaml", Src: tsrc}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Warnings) != 0 {
		t.Errorf("the example has warnings:\n%s", rules.ErrorList(rs.Warnings))
	}
	var names []string
	for _, s := range rs.Segmentations {
		names = append(names, s.Name+"/"+s.Segments[s.Fallback].Name)
	}
	if want := []string{"value_tier/small", "lifecycle/active", "source/other"}; !slices.Equal(names, want) {
		t.Errorf("segmentations/fallbacks = %v, want %v", names, want)
	}
	if got := len(rs.Tests); got != 19 {
		t.Errorf("%d test cases, want 19", got)
	}
	if rs.Label != "零售客户分群" || rs.Key != "customer_id" {
		t.Errorf("Label, Key = %q, %q", rs.Label, rs.Key)
	}
	if len(rs.Hash) != 64 {
		t.Errorf("Hash = %q, want 64 hex digits", rs.Hash)
	}
	call, _ := rs.Action("winback_call")
	if call == nil || call.Cooldown != 30*24*time.Hour || call.Delay != 24*time.Hour || call.Priority != 1 {
		t.Fatalf("winback_call = %+v", call)
	}
	if got := call.Payload[0]; got.Name != "owner" || got.Value != "account_manager" || got.Expr != nil {
		t.Errorf("payload owner = %+v, want the constant account_manager", got)
	}
	if got := call.Payload[1]; got.Name != "tier" || got.Expr == nil || got.Expr.Source != "segment.value_tier" {
		t.Errorf("payload tier = %+v, want the expression segment.value_tier", got)
	}
}

// TestParamsAreConstants checks that params.NAME is replaced by the
// parameter's value at compile time, for every kind of value.
func TestParamsAreConstants(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, `
ruleset: shop
params:
  vip_spend: 5000
  ratio: 0.5
  home: online
  strict: true
  channels: [online, store]
  sizes: [1, 2.5]
  label: "7"
facts:
  spend: number
  orders: integer
  channel: string
segmentations:
  - name: tier
    segments:
      - name: int
        when: spend >= params.vip_spend
      - name: float
        when: spend * params.ratio > 10
      - name: string
        when: channel == params.home && params.strict
      - name: list
        when: channel in params.channels && float(orders) in params.sizes
      - name: quoted
        when: string(orders) == params.label
      - name: basic
        fallback: true
`)
	wantParams := map[string]any{
		"vip_spend": 5000, "ratio": 0.5, "home": "online", "strict": true,
		"channels": []any{"online", "store"}, "sizes": []any{1, 2.5}, "label": "7",
	}
	for _, p := range rs.Params {
		if want := wantParams[p.Name]; !reflect.DeepEqual(p.Value, want) {
			t.Errorf("param %s = %#v (%T), want %#v (%T)", p.Name, p.Value, p.Value, want, want)
		}
	}
	if len(rs.Params) != len(wantParams) {
		t.Errorf("%d params, want %d", len(rs.Params), len(wantParams))
	}

	tests := []struct {
		segment  string
		constant string // a literal the compiled tree holds instead of params.X
		env      map[string]any
		want     bool
	}{
		{"int", "5000", map[string]any{"spend": 5000.0}, true},
		{"int", "5000", map[string]any{"spend": 4999.5}, false},
		{"float", "0.5", map[string]any{"spend": 21.0}, true},
		{"float", "0.5", map[string]any{"spend": 19.0}, false},
		{"string", `"online"`, map[string]any{"channel": "online"}, true},
		{"string", `"online"`, map[string]any{"channel": "store"}, false},
		{"list", `"store"`, map[string]any{"channel": "store", "orders": 1}, true},
		{"list", "2.5", map[string]any{"channel": "partner", "orders": 1}, false},
		{"list", "2.5", map[string]any{"channel": "online", "orders": 3}, false},
		{"quoted", `"7"`, map[string]any{"orders": 7}, true},
	}
	tier := rs.Segmentations[0]
	for _, tt := range tests {
		seg := tier.Segments[tier.SegmentIndex(tt.segment)]
		if got := seg.When.Program.Node().String(); strings.Contains(got, "params") || !strings.Contains(got, tt.constant) {
			t.Errorf("%s: compiled to %s, want %s in place of params", tt.segment, got, tt.constant)
		}
		// No params in the environment: the values must be constants.
		got, err := run(t, seg.When, tt.env)
		if err != nil || got != tt.want {
			t.Errorf("%s with %v = %v, %v; want %v", tt.segment, tt.env, got, err, tt.want)
		}
	}
}

// TestNullableFacts checks both ways of declaring a nullable fact, and
// the mapping form's other keys.
func TestNullableFacts(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, `
ruleset: shop
facts:
  spend: number
  last_order_at: time?
  first_order_at: {type: time, nullable: true, label: 首次下单}
  orders: {type: integer}
  vip: {type: bool, nullable: false, description: flagged by sales}
  note: string?
segmentations:
  - name: tier
    segments:
      - name: gold
        when: spend > 0 && is_null(last_order_at) && is_null(first_order_at) && orders > 0 && vip && note == nil
      - name: basic
        fallback: true
`)
	want := []rules.Field{
		{Name: "spend", Type: rules.TypeNumber},
		{Name: "last_order_at", Type: rules.TypeTime, Nullable: true},
		{Name: "first_order_at", Type: rules.TypeTime, Nullable: true, Label: "首次下单"},
		{Name: "orders", Type: rules.TypeInteger},
		{Name: "vip", Type: rules.TypeBool},
		{Name: "note", Type: rules.TypeString, Nullable: true},
	}
	if len(rs.Facts.Fields) != len(want) {
		t.Fatalf("%d facts, want %d", len(rs.Facts.Fields), len(want))
	}
	for i, f := range rs.Facts.Fields {
		f.Pos = rules.Pos{}
		if f != want[i] {
			t.Errorf("fact %d = %+v, want %+v", i, f, want[i])
		}
	}
	if p := rs.Facts.Fields[1].Pos; p.Line != 5 || p.Col != 3 || p.File != "test.yaml" {
		t.Errorf("last_order_at declared at %v, want test.yaml:5:3", p)
	}
	gold := rs.Segmentations[0].Segments[0].When
	if want := []string{"spend", "last_order_at", "first_order_at", "orders", "vip", "note"}; !slices.Equal(gold.Reads, want) {
		t.Errorf("Reads = %v, want %v", gold.Reads, want)
	}
	env := map[string]any{"spend": 1.0, "last_order_at": nil, "first_order_at": nil, "orders": 2, "vip": true, "note": nil}
	if got, err := run(t, gold, env); err != nil || got != true {
		t.Errorf("gold = %v, %v; want true", got, err)
	}
	env["last_order_at"] = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, err := run(t, gold, env); err != nil || got != false {
		t.Errorf("gold with a last order = %v, %v; want false", got, err)
	}
}

// TestEvalOrder checks that segmentations reading others' new segments
// are evaluated after them, that previous.X adds no dependency, and that
// independent segmentations keep file order.
func TestEvalOrder(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, `
ruleset: grid
facts:
  spend: number
  orders: integer
segmentations:
  - name: grid
    segments:
      - name: vip_active
        when: segment.value == "high" && segment.life == "active"
      - name: lapsed_vip
        when: rank("value") == 1 && previous.grid == "vip_active"
      - name: other
        fallback: true
  - name: value
    segments:
      - name: high
        when: spend >= 1000
      - name: low
        fallback: true
  - name: watch
    segments:
      - name: moved
        when: previous.grid == "vip_active" && changed("life")
      - name: still
        fallback: true
  - name: life
    segments:
      - name: active
        when: orders > 0 && days_in("value") > 30
      - name: idle
        fallback: true
  - name: source
    segments:
      - name: any
        fallback: true
`)
	var order []string
	for _, i := range rs.EvalOrder {
		order = append(order, rs.Segmentations[i].Name)
	}
	if want := []string{"value", "life", "grid", "watch", "source"}; !slices.Equal(order, want) {
		t.Errorf("EvalOrder = %v, want %v", order, want)
	}
	deps := map[string][]string{}
	for _, s := range rs.Segmentations {
		deps[s.Name] = s.DependsOn
	}
	want := map[string][]string{"grid": {"value", "life"}, "value": nil, "watch": {"life"}, "life": {"value"}, "source": nil}
	if !reflect.DeepEqual(deps, want) {
		t.Errorf("DependsOn = %v, want %v", deps, want)
	}
	// Every segmentation comes after those it depends on.
	pos := map[string]int{}
	for i, name := range order {
		pos[name] = i
	}
	for name, ds := range deps {
		for _, d := range ds {
			if pos[d] > pos[name] {
				t.Errorf("%s is evaluated before %s, which it reads", name, d)
			}
		}
	}
}

// TestWarnings checks the lint warnings: each case compiles and yields
// exactly the listed warnings, as "field: message".
func TestWarnings(t *testing.T) {
	t.Parallel()
	const head = "ruleset: shop\nfacts:\n  spend: number\n  orders: integer\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "clean",
			src: head + `segmentations:
  - name: tier
    segments:
      - {name: gold, when: spend >= 200}
      - {name: silver, when: spend >= 100 && orders > 1}
      - {name: basic, fallback: true}
actions:
  - {name: thanks, when: 'entered("tier", "gold")'}
  - {name: nudge, when: spend < 10, cooldown: 30d}
`,
		},
		{
			name: "unused param and unread fact",
			src: "ruleset: shop\nparams:\n  vip: 5\n  unused: 1\nfacts:\n  spend: number\n  orders: integer\n" + `segmentations:
  - name: tier
    segments:
      - {name: gold, when: spend >= params.vip}
      - {name: basic, fallback: true}
`,
			want: []string{
				`params.unused: parameter "unused" is never used`,
				`facts.orders: fact "orders" is never read`,
			},
		},
		{
			name: "threshold ladder in the wrong order",
			src: head + `segmentations:
  - name: tier
    segments:
      - {name: silver, when: spend >= 100}
      - {name: gold, when: spend >= 200 && orders > 2}
      - {name: platinum, when: spend > 100}
      - {name: basic, when: orders >= 0}
      - {name: none, fallback: true}
`,
			want: []string{
				`segmentations.tier.segments.gold.when: segment "gold" can never match: segment "silver" before it takes everyone with spend >= 100`,
				`segmentations.tier.segments.platinum.when: segment "platinum" can never match: segment "silver" before it takes everyone with spend >= 100`,
			},
		},
		{
			name: "ladder through params and below",
			src: "ruleset: shop\nparams:\n  low: 10\n  high: 20\nfacts:\n  spend: number\n" + `segmentations:
  - name: tier
    segments:
      - {name: cheap, when: spend < params.high}
      - {name: cheaper, when: spend <= params.low}
      - {name: basic, fallback: true}
`,
			want: []string{`segmentations.tier.segments.cheaper.when: segment "cheaper" can never match: segment "cheap" before it takes everyone with spend < 20`},
		},
		{
			name: "identical condition",
			src: head + `segmentations:
  - name: tier
    segments:
      - {name: a, when: spend > 1 && orders > 1}
      - {name: b, when: "spend>1 &&  orders>1"}
      - {name: basic, fallback: true}
`,
			want: []string{`segmentations.tier.segments.b.when: segment "b" can never match: segment "a" before it has the same condition`},
		},
		{
			name: "everyone matches first",
			src: head + `segmentations:
  - name: tier
    segments:
      - {name: all, when: "true"}
      - {name: gold, when: spend > 1 && orders > 1}
      - {name: basic, fallback: true}
`,
			want: []string{`segmentations.tier.segments.gold.when: segment "gold" can never match: segment "all" before it matches everyone`},
		},
		{
			name: "disjunction is not a threshold",
			src: head + `segmentations:
  - name: tier
    segments:
      - {name: a, when: spend >= 100 || orders > 5}
      - {name: b, when: spend >= 200}
      - {name: basic, fallback: true}
`,
		},
		{
			name: "action without cooldown or transition",
			src: head + `segmentations:
  - name: tier
    segments:
      - {name: gold, when: spend >= 200 && orders > 0}
      - {name: basic, fallback: true}
actions:
  - {name: spam, when: segment.tier == "gold"}
`,
			want: []string{`actions.spam.when: action "spam" has no cooldown and no transition, so it is queued again on every run for every customer it matches`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := mustCompile(t, tt.src)
			var got []string
			for _, w := range rs.Warnings {
				if w.Severity != rules.SeverityWarning {
					t.Errorf("severity %v in Warnings: %s", w.Severity, w)
				}
				if w.Pos.Line == 0 || w.Snippet == "" || w.Hint == "" {
					t.Errorf("warning without position, snippet or hint: %#v", w)
				}
				if !strings.Contains(w.String(), ": warning: ") {
					t.Errorf("String() does not say warning: %s", w)
				}
				got = append(got, w.Field+": "+w.Message)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestWarningsReportedWithErrors checks that a file with errors gets no
// lint warnings: they would only add noise.
func TestWarningsReportedWithErrors(t *testing.T) {
	t.Parallel()
	list := compileErrors(t, "ruleset: shop\nparams:\n  unused: 1\nfacts:\n  spend: number\nsegmentations:\n  - name: tier\n    segments:\n      - {name: gold, when: spnd > 1}\n      - {name: basic, fallback: true}\n")
	for _, d := range list {
		if d.Severity == rules.SeverityWarning {
			t.Errorf("warning alongside errors: %s", d)
		}
	}
}

// TestSchemaFromOptions checks that a rule set without facts uses the
// schema passed in, and that its own facts take precedence.
func TestSchemaFromOptions(t *testing.T) {
	t.Parallel()
	schema, err := rules.NewSchema([]rules.Field{{Name: "revenue", Type: rules.TypeNumber}})
	if err != nil {
		t.Fatal(err)
	}
	const segs = "segmentations:\n  - name: tier\n    segments:\n      - {name: gold, when: revenue > 1}\n      - {name: basic, fallback: true}\n"
	rs, err := rules.Compile("db.yaml", []byte("ruleset: db\n"+segs), rules.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Facts != schema {
		t.Errorf("Facts is not the schema from Options")
	}
	_, err = rules.Compile("own.yaml", []byte("ruleset: own\nfacts:\n  spend: number\n"+segs), rules.Options{Schema: schema})
	if err == nil || !strings.Contains(err.Error(), `unknown name "revenue"`) {
		t.Errorf("err = %v, want revenue unknown: the file's facts take precedence", err)
	}
}

// TestLimits checks that each size limit is enforced with a message that
// names the limit.
func TestLimits(t *testing.T) {
	t.Parallel()
	repeat := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	const facts = "facts:\n  spend: number\n"
	const tier = "segmentations:\n  - name: tier\n    segments:\n      - {name: basic, fallback: true}\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"file", "ruleset: big\n# " + strings.Repeat("x", rules.MaxFileBytes), fmt.Sprintf("the limit is %d", rules.MaxFileBytes)},
		{"params", "ruleset: big\nparams:\n" + repeat(rules.MaxParams+1, "  p%d: 1\n") + facts + tier, fmt.Sprintf("%d params; the limit is %d", rules.MaxParams+1, rules.MaxParams)},
		{"facts", "ruleset: big\nfacts:\n" + repeat(rules.MaxFacts+1, "  f%d: number\n") + tier, fmt.Sprintf("the limit is %d", rules.MaxFacts)},
		{"segmentations", "ruleset: big\n" + facts + "segmentations:\n" + repeat(rules.MaxSegmentations+1, "  - {name: s%d, segments: [{name: a, fallback: true}]}\n"), fmt.Sprintf("the limit is %d", rules.MaxSegmentations)},
		{"segments", "ruleset: big\n" + facts + "segmentations:\n  - name: tier\n    segments:\n" + repeat(rules.MaxSegments+1, "      - {name: s%d, when: spend > 1}\n"), fmt.Sprintf("the limit is %d", rules.MaxSegments)},
		{"actions", "ruleset: big\n" + facts + tier + "actions:\n" + repeat(rules.MaxActions+1, "  - {name: a%d, when: spend > 1, cooldown: 1d}\n"), fmt.Sprintf("the limit is %d", rules.MaxActions)},
		{"payload", "ruleset: big\n" + facts + tier + "actions:\n  - name: a\n    when: spend > 1\n    cooldown: 1d\n    payload:\n" + repeat(rules.MaxPayloadFields+1, "      p%d: 1\n"), fmt.Sprintf("the limit is %d", rules.MaxPayloadFields)},
		{"tests", "ruleset: big\n" + facts + tier + "tests:\n" + repeat(rules.MaxTestCases+1, "  - {name: t%d, as_of: 2024-01-01, expect: {}}\n"), fmt.Sprintf("the limit is %d", rules.MaxTestCases)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			list := compileErrors(t, tt.src)
			if !strings.Contains(list.Error(), tt.want) {
				t.Errorf("errors do not mention %q:\n%.2000s", tt.want, list.Error())
			}
		})
	}
}

// TestCompileNoRuleSet checks files that hold no rule set at all. A lone
// "---" or "null" once made Compile dereference a nil rule set (found by
// FuzzCompile).
func TestCompileNoRuleSet(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"", "\n", "# soon\n", "---\n", "# soon\n---\n", "--- ~\n", "null", "~", "!", "!!null ''"} {
		rs, err := rules.Compile("empty.yaml", []byte(src), rules.Options{})
		if rs != nil || err == nil {
			t.Errorf("Compile(%q) = %v, %v; want an error", src, rs, err)
			continue
		}
		if want := "empty.yaml:1: file is empty (start with `ruleset: NAME`; see docs/rules.md)"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Compile(%q) error:\n%v\nwant it to start with %q", src, err, want)
		}
	}
}
