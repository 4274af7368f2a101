package rules

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// The slot layout holds exactly the variables the typed environment
// declares, so that every name a program loads has a slot.
func TestEnvNamesMatchTypedEnv(t *testing.T) {
	t.Parallel()
	for _, rs := range exampleRuleSets(t) {
		names := EnvNames(rs.Facts, rs.Segmentations)
		var want []string
		for name := range typedEnv(rs.Facts, rs.Segmentations) {
			want = append(want, name)
		}
		got := slices.Clone(names)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: EnvNames %v\nwant the typed environment's %v", rs.Name, got, want)
		}
		s := NewSlots(rs)
		for i, name := range names {
			if s.Index(name) != i || s.Name(i) != name {
				t.Errorf("%s: %q is in slot %d, Name(%d) = %q", rs.Name, name, s.Index(name), i, s.Name(i))
			}
		}
		if s.Index("no such variable") != -1 {
			t.Errorf("%s: Index of an unknown name is not -1", rs.Name)
		}
	}
}

// exampleRuleSets compiles the example rule sets and those of the
// property tests.
func exampleRuleSets(t *testing.T) []*RuleSet {
	t.Helper()
	files, err := filepath.Glob("../examples/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []*RuleSet
	for _, path := range append(files, "property.yaml", "slots.yaml") {
		src, err := os.ReadFile(path)
		switch path {
		case "property.yaml":
			src, err = []byte(propertySrc), nil
		case "slots.yaml":
			src, err = []byte(slotsSrc), nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(path, "_test.yaml") {
			continue
		}
		rs, err := Compile(path, src, Options{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, rs)
	}
	return out
}

// slotsSrc uses what slot programs treat specially: helpers of one, two
// and three arguments, date facts, a let, predicates and coalesce.
const slotsSrc = `ruleset: slots
timezone: Asia/Shanghai
facts:
  spend: number
  prev: number?
  orders: integer?
  seen: time?
  born: date?
  tags: string
segmentations:
  - name: tier
    segments:
      - name: up
        when: let p = coalesce(prev, 0); p > 0 && pct_change(p, spend) > 10
      - name: old
        when: born != nil && born < date("2000-01-01") && months_since(born) > 12
      - name: lapsed
        when: is_null(seen) || days_since(seen) > 30 || year(seen) < 2024
      - name: ratio
        when: safe_div(spend, orders ?? 0, -1) > 2.5 && ratio(spend, 2) > 1
      - name: tagged
        when: 'any(["a", "b"], # == tags) && days_between(born ?? date("2024-01-01"), as_of) > 0'
      - name: rest
        fallback: true
actions:
  - name: note
    when: changed("tier") && month(as_of) != month(seen ?? as_of)
    cooldown: 7d
    payload:
      days: =days_in_previous("tier")
      when: =date(as_of)
      change: =round(pct_change(prev ?? 1, spend))
`

// Every example's fast path has slot programs, which call the helpers
// typed and load no variable by name, while the map programs are those
// expr makes, their trees as compiled.
func TestExamplesHaveSlotPrograms(t *testing.T) {
	t.Parallel()
	for _, rs := range exampleRuleSets(t) {
		if rs.Fast == nil || rs.Fast.Slotted == nil {
			t.Fatalf("%s: no slot programs", rs.Name)
		}
		sp := rs.Fast.Slotted
		eachProgramPair(rs, func(what string, p, slot *vm.Program) {
			if slot == nil {
				t.Errorf("%s: %s has no slot program", rs.Name, what)
				return
			}
			for _, op := range slot.Bytecode {
				switch op {
				case vm.OpLoadFast, vm.OpLoadEnv, vm.OpLoadConst:
					t.Errorf("%s: %s: slot program has %v:\n%s", rs.Name, what, op, slot.Disassemble())
				}
			}
			// expr's builtins (max, min ...) keep their calls; the
			// rules' helpers are called typed.
			for _, line := range strings.Split(slot.Disassemble(), "\n") {
				f := strings.Fields(line)
				if len(f) == 4 && (f[1] == "OpCall1" || f[1] == "OpCall2") && !slices.Contains(allowedBuiltins, f[3]) {
					t.Errorf("%s: %s: slot program calls %s with %s", rs.Name, what, f[3], f[1])
				}
			}
			if strings.Contains(p.Node().String(), "call/") || strings.Contains(p.Disassemble(), "OpCallTyped") {
				t.Errorf("%s: %s: the map program was changed:\n%s", rs.Name, what, p.Disassemble())
			}
		})
		if sp.Slots.size < sp.Slots.base() {
			t.Errorf("%s: %d slots, fewer than the %d named and helper ones", rs.Name, sp.Slots.size, sp.Slots.base())
		}
	}
}

// eachProgramPair calls fn with every map program of rs and its slot
// program.
func eachProgramPair(rs *RuleSet, fn func(what string, p, slot *vm.Program)) {
	sp := rs.Fast.Slotted
	for i, s := range rs.Segmentations {
		fn(s.Name, rs.Fast.Segmentations[i], sp.Segmentations[i])
		for k, seg := range s.Segments {
			if seg.When != nil {
				fn(seg.When.Field, seg.When.Program, sp.Conditions[i][k])
			}
		}
	}
	if rs.Fast.Actions != nil {
		fn("actions", rs.Fast.Actions, sp.Actions)
	}
	for i, a := range rs.Actions {
		fn(a.When.Field, a.When.Program, sp.ActionConditions[i])
		for j, p := range a.Payload {
			if p.Expr != nil {
				fn(p.Expr.Field, p.Expr.Program, sp.Payloads[i][j])
			}
		}
	}
}

// Every program of the examples returns what its map program returns,
// or fails with the same error, over random environments.
func TestSlotProgramsAgreeOnExamples(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(16, 3))
	for _, rs := range exampleRuleSets(t) {
		typed := typedEnv(rs.Facts, rs.Segmentations)
		errs := 0
		for range 300 {
			env := randomEnv(r, rs, typed)
			eachProgramPair(rs, func(what string, p, slot *vm.Program) {
				want, got := runMap(p, env), runSlots(slot, rs.Fast.Slotted.Slots, env)
				if got != want {
					t.Fatalf("%s: %s on %v:\nslot program: %s\nmap program:  %s", rs.Name, what, env, got, want)
				}
				if strings.HasPrefix(want, "error") {
					errs++
				}
			})
		}
		if rs.Name == "slots" && errs == 0 {
			t.Errorf("no program of %s failed: the environments miss the errors", rs.Name)
		}
	}
}

// randomEnv gives every variable of rs a value of its type, or nil.
func randomEnv(r *rand.Rand, rs *RuleSet, typed map[string]any) map[string]any {
	day := func() time.Time {
		return time.Date(1999+r.IntN(27), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	}
	var segNames []any
	for _, s := range rs.Segmentations {
		for _, seg := range s.Segments {
			segNames = append(segNames, seg.Name)
		}
	}
	env := map[string]any{}
	for name, zero := range typed {
		if r.IntN(8) == 0 && name != AsOfVar {
			env[name] = nil
			continue
		}
		var v any
		switch zero.(type) {
		case float64:
			v = []float64{0, 1, -1, 2.5, 10, 999.5, 1000, 50000, 1e9}[r.IntN(9)]
		case int:
			v = []int{0, 1, -1, 2, 6, 90, 400, 5000}[r.IntN(8)]
		case string:
			v = append([]any{"", "a", "b", "online", "store"}, segNames...)[r.IntN(5+len(segNames))]
		case bool:
			v = r.IntN(2) == 0
		case dateValue:
			v = day()
		case time.Time:
			v = day().Add(time.Duration(r.IntN(48)) * time.Hour)
		}
		env[name] = v
	}
	env[AsOfVar] = env[AsOfVar].(time.Time).In(rs.Zone())
	return env
}

func runMap(p *vm.Program, env map[string]any) string {
	var machine vm.VM
	return result(machine.Run(p, env))
}

func runSlots(p *vm.Program, s *Slots, env map[string]any) string {
	vars := s.New()
	for name, v := range env {
		if i := s.Index(name); i >= 0 {
			vars[i] = v
		}
	}
	machine := vm.VM{Variables: vars}
	return result(machine.Run(p, nil))
}

func result(out any, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%T %#v", out, out)
}

// Expressions generated from the whole grammar (see TestNoMethodReachable)
// all get a slot program, which returns what the map program returns,
// or fails with the same error, and leaves the map program's tree as it
// was.
func TestSlotProgramsAgreeOnGenerated(t *testing.T) {
	t.Parallel()
	total := 5000
	if testing.Short() {
		total = 1000
	}
	l := &loader{file: "property.yaml", src: []byte(propertySrc)}
	rs := l.compile(l.src, Options{})
	if l.failed() {
		t.Fatalf("the environment does not compile:\n%v", ErrorList(l.diags))
	}
	c := newExprCompiler(l, rs.Facts, rs.Params, rs.Segmentations)
	env := propertyEnv(rs)
	null := propertyEnv(rs)
	for name := range null {
		if name != AsOfVar {
			null[name] = nil
		}
	}
	g := &exprGen{r: rand.New(rand.NewPCG(16, 4))}
	compiled, lets, calls := 0, 0, 0
	for range total {
		src := g.expr(kindAny, 4)
		l.diags = nil
		node := &yaml.Node{Kind: yaml.ScalarNode, Value: src, Line: 1, Column: 1}
		cp := c.compileSource(node, src, 0, "probe", kindValue)
		if cp == nil {
			continue
		}
		compiled++
		p, slot := cp.expr.Program, c.slotted[cp.expr]
		if slot == nil {
			t.Errorf("%s\nhas no slot program", src)
			continue
		}
		if tree := p.Node().String(); strings.Contains(tree, "call/") {
			t.Errorf("%s\nthe map program's tree was left retargeted: %s", src, tree)
		}
		for _, e := range []map[string]any{env, null} {
			if got, want := runSlots(slot, c.slots, e), runMap(p, e); got != want {
				t.Errorf("%s\nslot program: %s\nmap program:  %s", src, got, want)
			}
		}
		if strings.Contains(slot.Disassemble(), "OpStore") {
			lets++
		}
		if strings.Contains(slot.Disassemble(), "OpCallTyped") {
			calls++
		}
	}
	t.Logf("%d expressions: %d compiled, %d with a let, %d calling a helper typed", total, compiled, lets, calls)
	if compiled < total/10 || lets < total/100 || calls < total/100 {
		t.Errorf("the generator is off: of %d expressions %d compiled, %d have a let and %d a typed call", total, compiled, lets, calls)
	}
}

// A let variable of a slot program lives past the named and helper
// slots, so that it overwrites no variable.
func TestSlotLetsPastNamedSlots(t *testing.T) {
	rs := mustCompileInternal(t, slotsSrc)
	sp := rs.Fast.Slotted
	p := sp.Conditions[0][0]
	stores := 0
	for i, op := range p.Bytecode {
		if op == vm.OpStore {
			stores++
			if p.Arguments[i] < sp.Slots.base() || p.Arguments[i] >= sp.Slots.size {
				t.Errorf("let stored in slot %d; named and helper slots end at %d, the environment at %d", p.Arguments[i], sp.Slots.base(), sp.Slots.size)
			}
		}
	}
	if stores != 1 {
		t.Errorf("%d stores in %s", stores, p.Disassemble())
	}
}

func mustCompileInternal(t *testing.T, src string) *RuleSet {
	t.Helper()
	rs, err := Compile("test.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// The typed helpers call the function with the arguments given, return
// what it returns, and panic with the error it returns, as expr's VM
// does when a function fails.
func TestTypedHelpers(t *testing.T) {
	var got []any
	fn := func(args ...any) (any, error) {
		got = slices.Clone(args)
		if args[0] == nil {
			return nil, fmt.Errorf("null")
		}
		return len(args), nil
	}
	if out := typed1(fn)(7); out != 1 || !slices.Equal(got, []any{7}) {
		t.Errorf("typed1 = %v, called with %v", out, got)
	}
	if out := typed2(fn)("a", 2.5); out != 2 || !slices.Equal(got, []any{"a", 2.5}) {
		t.Errorf("typed2 = %v, called with %v", out, got)
	}
	defer func() {
		if r := recover(); fmt.Sprint(r) != "null" {
			t.Errorf("recovered %v; want the error", r)
		}
	}()
	typed2(fn)(nil, 1)
	t.Error("no panic")
}
