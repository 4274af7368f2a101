package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options adjust how a rule file is compiled.
type Options struct {
	// Schema supplies the facts schema when the file declares none, for
	// example one read from a database source. A schema declared in the
	// file takes precedence.
	Schema *Schema
	// Tests, when non-nil, is a sibling test file's content (see
	// TestFileFor); its cases are added to the rule set's own.
	Tests *TestSource
	// ValidateSchedule, when set, checks a rule set's schedule (a cron
	// spec and a time zone name) and says what is wrong with it. The rules
	// package reads no cron syntax itself; the caller plugs in its
	// scheduler's parser.
	ValidateSchedule func(cron, timezone string) error
}

// TestSource is a separate file of test cases for a rule set.
type TestSource struct {
	File string
	Src  []byte
}

var topKeys = []string{"ruleset", "label", "description", "key", "schedule", "timezone", "on_missing", "limits", "churn", "params", "facts", "transactions", "derived", "segmentations", "actions", "tests"}

// Compile decodes, validates and compiles one rule file. file names the
// file in diagnostics. On failure the error is an ErrorList holding every
// error and warning found, in file order; on success warnings are in
// RuleSet.Warnings and the fast path is in RuleSet.Fast.
func Compile(file string, src []byte, opts Options) (*RuleSet, error) {
	l := &loader{file: file, src: src}
	rs := l.compile(src, opts)
	sortDiagnostics(l.diags)
	if l.failed() {
		return nil, ErrorList(l.diags)
	}
	rs.Warnings = l.diags
	return rs, nil
}

func (l *loader) compile(src []byte, opts Options) *RuleSet {
	root := l.parseYAML(src)
	if root == nil {
		return nil
	}
	sum := sha256.Sum256(src)
	rs := &RuleSet{File: l.file, Hash: hex.EncodeToString(sum[:])}
	top := l.mapping(root, "", topKeys...)
	if root.Kind != yaml.MappingNode {
		return nil
	}
	if n := l.required(top, root, "", "ruleset", "start the file with `ruleset: my_rules`"); n != nil {
		rs.Name = l.name(n, "ruleset")
	}
	rs.Label = l.str(top["label"], "label")
	rs.Description = l.str(top["description"], "description")
	rs.Key = "customer_id"
	if n := top["key"]; n != nil {
		rs.Key = l.name(n, "key")
	}
	rs.Params = l.params(top["params"])
	rs.Schedule = l.schedule(top["schedule"], opts.ValidateSchedule)
	rs.Timezone, rs.Location = l.timezone(top["timezone"])
	rs.OnMissing = l.onMissing(top["on_missing"])
	rs.Facts = l.facts(top["facts"], rs.Key)
	if rs.Facts == nil {
		rs.Facts = opts.Schema
	}
	rs.Facts = l.derived(top["derived"], l.transactions(top["transactions"], rs.Key), rs.Facts, rs.Key)
	if rs.Facts == nil {
		l.errorf(root, "facts", "declare the fields rules read under facts:, e.g. `spend_12m: number`, or check against a database with --db", "no facts schema")
	} else {
		rs.Facts = rs.Facts.inZone(rs.Location)
		l.scheduleZoneWarning(rs, top["timezone"], top["schedule"])
	}
	segsNode := l.required(top, root, "", "segmentations", "add at least one segmentation with its segments")
	rawSegs := l.segmentations(segsNode)
	rawActs := l.actions(top["actions"])

	segs := make([]*Segmentation, len(rawSegs))
	for i, r := range rawSegs {
		segs[i] = r.seg
	}
	rs.Segmentations = segs
	l.followUp(rs, top, rawSegs, rawActs)
	c := newExprCompiler(l, rs.Facts, rs.Params, segs)
	l.compileSegmentations(c, rawSegs)
	rs.Actions = l.compileActions(c, rawActs, rs.OnMissing)
	c.checkTotalCost()
	rs.EvalOrder = l.evalOrder(rawSegs)
	if !l.failed() {
		rs.Tests = l.tests(top["tests"], rs, "tests")
		if opts.Tests != nil {
			rs.Tests = append(rs.Tests, loadTestFile(l, opts.Tests, rs)...)
		}
	}
	if !l.failed() {
		l.lintDerived(rs, c)
		l.lint(rs, c, rawSegs, rawActs, top["facts"] != nil)
		// Every condition compiled, so the combined programs can be built.
		rs.Fast = l.fastPath(c, rs)
	}
	return rs
}

// onMissing decodes the top-level on_missing policy: keep when absent, ""
// when it is not one.
func (l *loader) onMissing(n *yaml.Node) OnMissing {
	if n == nil {
		return OnMissingKeep
	}
	s, ok := l.scalar(n, "on_missing")
	if !ok {
		return OnMissingKeep
	}
	switch p := OnMissing(s); p {
	case OnMissingKeep, OnMissingExit:
		return p
	}
	hint := suggest(s, []string{string(OnMissingKeep), string(OnMissingExit)})
	if hint == "" {
		hint = "write keep (customers who vanish from the facts source stay in their segments) or exit (they move out)"
	}
	l.errorf(n, "on_missing", hint, "unknown on_missing policy %q", s)
	return "" // unknown: left() is not reported against it
}

// parseYAML parses src into its root node, reporting syntax errors,
// multiple documents, anchors and files over the size limit.
func (l *loader) parseYAML(src []byte) *yaml.Node {
	if len(src) > MaxFileBytes {
		l.report(SeverityError, Pos{File: l.file}, "", "split the rule set into several files", "file is %d bytes; the limit is %d", len(src), MaxFileBytes)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			l.report(SeverityError, Pos{File: l.file, Line: 1}, "", "start with `ruleset: NAME`; see docs/rules.md", "file is empty")
			return nil
		}
		l.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.report(SeverityError, Pos{File: l.file, Line: extra.Line}, "", "put each rule set in its own file", "a file holds one rule set, but a second YAML document starts here")
	}
	if len(doc.Content) == 0 {
		l.report(SeverityError, Pos{File: l.file, Line: 1}, "", "start with `ruleset: NAME`; see docs/rules.md", "file is empty")
		return nil
	}
	root := doc.Content[0]
	if isNull(root) { // "---", "~" or "null" alone
		l.report(SeverityError, Pos{File: l.file, Line: 1}, "", "start with `ruleset: NAME`; see docs/rules.md", "file is empty")
		return nil
	}
	l.rejectAliases(root)
	if l.failed() {
		return nil
	}
	return root
}

func (l *loader) params(n *yaml.Node) []Param {
	var out []Param
	ps := l.pairs(n, "params")
	if len(ps) > MaxParams {
		l.errorf(n, "params", "", "%d params; the limit is %d", len(ps), MaxParams)
		return nil
	}
	for _, p := range ps {
		field := join("params", p.Key)
		if !validName(p.Key) {
			l.errorf(p.KeyN, field, "use lower-case letters, digits and _", "%q is not a valid parameter name", p.Key)
			continue
		}
		v, ok := l.paramValue(p.Value, field)
		if ok {
			out = append(out, Param{Name: p.Key, Value: v, Pos: l.pos(p.KeyN)})
		}
	}
	return out
}

func (l *loader) paramValue(n *yaml.Node, field string) (any, bool) {
	if n.Kind == yaml.SequenceNode {
		list := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			v, ok := l.paramValue(e, fmt.Sprintf("%s[%d]", field, i))
			if !ok {
				return nil, false
			}
			if _, nested := v.([]any); nested {
				l.errorf(e, field, "", "lists of lists are not supported")
				return nil, false
			}
			list = append(list, v)
		}
		return list, true
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.errorf(n, field, "write a number, a string, true/false, or a list of those", "unsupported parameter value")
		return nil, false
	}
	var v any
	if err := n.Decode(&v); err != nil {
		l.errorf(n, field, "", "%v", err)
		return nil, false
	}
	switch x := v.(type) {
	case int, float64, string, bool:
		return x, true
	case int64:
		return int(x), true
	}
	return n.Value, true
}

func (l *loader) facts(n *yaml.Node, key string) *Schema {
	if n == nil {
		return nil
	}
	ps := l.pairs(n, "facts")
	if len(ps) > MaxFacts {
		l.errorf(n, "facts", "", "%d facts; the limit is %d", len(ps), MaxFacts)
		return nil
	}
	var fields []Field
	for _, p := range ps {
		field := join("facts", p.Key)
		if !validName(p.Key) {
			l.errorf(p.KeyN, field, "use lower-case letters, digits and _", "%q is not a valid fact name", p.Key)
			continue
		}
		if p.Key == key {
			l.errorf(p.KeyN, field, "the key column identifies customers and is not a fact; remove it from facts", "%q is the rule set's key", p.Key)
			continue
		}
		if reserved(p.Key) {
			l.errorf(p.KeyN, field, "rename the fact", "%q is a reserved name in expressions", p.Key)
			continue
		}
		f := Field{Name: p.Key, Pos: l.pos(p.KeyN)}
		typeNode := p.Value
		var m map[string]*yaml.Node
		if p.Value.Kind == yaml.MappingNode {
			m = l.mapping(p.Value, field, factKeys...)
			typeNode = l.required(m, p.Value, field, "type", "e.g. type: number")
			if nn := m["nullable"]; nn != nil {
				f.Nullable = l.boolean(nn, join(field, "nullable"))
			}
			f.Label = l.str(m["label"], join(field, "label"))
		}
		if typeNode == nil {
			l.brokenFact(p.Key)
			continue
		}
		s, ok := l.scalar(typeNode, field)
		if !ok {
			l.brokenFact(p.Key)
			continue
		}
		if base, found := strings.CutSuffix(s, "?"); found {
			s, f.Nullable = base, true
		}
		t, ok := ParseType(s)
		if !ok {
			names := []string{"number", "integer", "string", "bool", "time", "date"}
			hint := suggest(s, names)
			if hint == "" {
				hint = oneOf(names) + "; add ? for nullable, e.g. time?"
			}
			l.errorf(typeNode, field, hint, "unknown type %q", s)
			l.brokenFact(p.Key)
			continue
		}
		f.Type = t
		f.Checks = l.factChecks(m, f, field)
		fields = append(fields, f)
	}
	schema, err := NewSchema(fields)
	if err != nil {
		l.errorf(n, "facts", "", "%v", err)
		return nil
	}
	return schema
}

func (l *loader) brokenFact(name string) {
	if l.brokenFacts == nil {
		l.brokenFacts = map[string]bool{}
	}
	l.brokenFacts[name] = true
}

// reserved names cannot be facts because expressions use them.
func reserved(name string) bool {
	switch name {
	case AsOfVar, "params", "segment", "previous", "true", "false", "nil", "not", "in", "and", "or", "matches", "contains", "let":
		return true
	}
	return contains(functionNames, name) || contains(macroNames, name)
}

// evalOrder sorts segmentations so each comes after those whose new
// segment it reads, keeping file order among independent ones, and
// reports cycles by name.
func (l *loader) evalOrder(raws []*rawSegmentation) []int {
	index := map[string]int{}
	for i, r := range raws {
		index[r.seg.Name] = i
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(raws))
	var order []int
	var stack []string
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case done:
			return true
		case visiting:
			name := raws[i].seg.Name
			start := 0
			for k, s := range stack {
				if s == name {
					start = k
				}
			}
			cycle := append(append([]string(nil), stack[start:]...), name)
			l.report(SeverityError, raws[i].seg.Pos, "segmentations."+name, "a segmentation can read another's new segment only if that one does not read it back; read previous.X instead to break the cycle", "segmentations depend on each other in a cycle: %s", strings.Join(cycle, " -> "))
			return false
		}
		state[i] = visiting
		stack = append(stack, raws[i].seg.Name)
		deps := append([]string(nil), raws[i].seg.DependsOn...)
		sort.SliceStable(deps, func(a, b int) bool { return index[deps[a]] < index[deps[b]] })
		for _, d := range deps {
			if !visit(index[d]) {
				return false
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		order = append(order, i)
		return true
	}
	for i := range raws {
		if !visit(i) {
			return nil
		}
	}
	return order
}
