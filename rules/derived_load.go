package rules

import (
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	transactionKeys = []string{"key", "time", "amount", "quantity", "category"}
	derivedFactKeys = []string{"derive", "label"}
)

// The default column names of a transactions source.
const (
	DefaultTxTime   = "ordered_at"
	DefaultTxAmount = "amount"
)

// transactions decodes the top-level transactions: mapping, the column
// names of the rule set's transactions source; when it is absent, the
// defaults (the rule set's key, ordered_at, amount).
func (l *loader) transactions(n *yaml.Node, key string) *Transactions {
	tx := &Transactions{Key: key, Time: DefaultTxTime, Amount: DefaultTxAmount, Pos: l.pos(n)}
	if n == nil {
		return tx
	}
	m := l.mapping(n, "transactions", transactionKeys...)
	cols := map[string]*string{"key": &tx.Key, "time": &tx.Time, "amount": &tx.Amount, "quantity": &tx.Quantity, "category": &tx.Category}
	seen := map[string]string{}
	for _, k := range transactionKeys {
		v := m[k]
		if v == nil {
			continue
		}
		field := join("transactions", k)
		name := l.name(v, field)
		if name == "" {
			continue
		}
		if other, dup := seen[name]; dup {
			l.errorf(v, field, "each role reads its own column", "column %q is also the transactions' %s", name, other)
			continue
		}
		seen[name] = k
		*cols[k] = name
	}
	return tx
}

// derived decodes the derived: section and returns schema with a field
// appended for every derived fact (four for an rfm declaration), in file
// order. schema may be nil when the file declares no facts; so may the
// result when there is neither.
func (l *loader) derived(n *yaml.Node, tx *Transactions, schema *Schema, key string) *Schema {
	ps := l.pairs(n, "derived")
	if len(ps) == 0 {
		return schema
	}
	if len(ps) > MaxDerived {
		l.errorf(n, "derived", "", "%d derived facts; the limit is %d", len(ps), MaxDerived)
		return schema
	}
	var fields []Field
	if schema != nil {
		fields = append(fields, schema.Fields...)
	}
	for _, p := range ps {
		fields = append(fields, l.derivedFact(p, tx, fields, key)...)
	}
	out, err := NewSchema(fields)
	if err != nil {
		l.errorf(n, "derived", "", "%v", err)
		return schema
	}
	return out
}

// derivedFact decodes one `NAME: call` (or `NAME: {derive: call, label:
// text}`) against the facts before it; nil when it has an error.
func (l *loader) derivedFact(p pair, tx *Transactions, before []Field, key string) []Field {
	field := join("derived", p.Key)
	f := Field{Name: p.Key, Pos: l.pos(p.KeyN)}
	if !l.derivedName(p, field, before, key) {
		return nil
	}
	src := p.Value
	if p.Value.Kind == yaml.MappingNode {
		m := l.mapping(p.Value, field, derivedFactKeys...)
		f.Label = l.str(m["label"], join(field, "label"))
		src = l.required(m, p.Value, field, "derive", "e.g. derive: sum(amount, last 365d)")
		field = join(field, "derive")
	}
	if src == nil {
		l.brokenFact(p.Key)
		return nil
	}
	text, ok := l.scalar(src, field)
	if !ok {
		l.brokenFact(p.Key)
		return nil
	}
	d, typ, nullable, derr := compileDerivation(text, tx, before)
	if derr != nil {
		if p.Value.Style&yaml.FlowStyle != 0 && src.Style == 0 && strings.Contains(derr.msg, "found the end") {
			derr.hint = "quote the call in a {...} on one line, where YAML ends a value at a comma: {derive: \"" + text + ", ...)\"}"
		}
		l.report(SeverityError, exprPos(l, src, derr.off), field, derr.hint, "%s", derr.msg)
		l.brokenFact(p.Key)
		return nil
	}
	if d.Func == "rfm" {
		return l.checkRFMNames(rfmFields(f, *d), before, field)
	}
	f.Type, f.Nullable, f.Derived = typ, nullable, d
	return []Field{f}
}

// derivedName checks a derived fact's name: valid, not the key, not
// reserved, not a fact declared before it.
func (l *loader) derivedName(p pair, field string, before []Field, key string) bool {
	switch {
	case !validName(p.Key):
		l.errorf(p.KeyN, field, "use lower-case letters, digits and _", "%q is not a valid fact name", p.Key)
	case p.Key == key:
		l.errorf(p.KeyN, field, "the key column identifies customers and is not a fact; rename the derived fact", "%q is the rule set's key", p.Key)
	case reserved(p.Key):
		l.errorf(p.KeyN, field, "rename the fact", "%q is a reserved name in expressions", p.Key)
	case hasField(before, p.Key):
		l.errorf(p.KeyN, field, "a fact is either declared (facts:, from the facts source) or derived: remove one, or rename it", "fact %q is already declared", p.Key)
	default:
		return true
	}
	return false
}

// checkRFMNames reports an rfm declaration whose score facts (NAME_r,
// NAME_f, NAME_m) clash with a fact before it.
func (l *loader) checkRFMNames(fs []Field, before []Field, field string) []Field {
	for _, f := range fs[1:] {
		if hasField(before, f.Name) || !validName(f.Name) {
			l.report(SeverityError, f.Pos, field, "rename the rfm fact: NAME: rfm(...) also makes NAME_r, NAME_f and NAME_m",
				"rfm declares fact %q, which is already declared or not a valid name", f.Name)
			return nil
		}
	}
	return fs
}

func hasField(fs []Field, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

// compileDerivation parses and checks one declaration against the
// transactions' columns and the facts before it, and returns the fact's
// derivation, type and nullability.
func compileDerivation(src string, tx *Transactions, before []Field) (*Derivation, Type, bool, *derivedError) {
	call, err := parseDerived(src)
	if err != nil {
		return nil, 0, false, err
	}
	fn, ok := derivedFuncs[call.name]
	if !ok {
		return nil, 0, false, errAt(call.off, nearOrOneOf(call.name, derivedFuncNames()), "unknown derived-fact function %q", call.name)
	}
	d := &Derivation{Kind: fn.kind, Func: call.name, Source: strings.TrimSpace(src), Transactions: tx}
	decl := &derivedDecl{call: call, fn: fn, tx: tx}
	decl.lookup, decl.names = lookupIn(before)
	nullable := fn.nullable
	switch fn.kind {
	case DerivedTransactions:
		err = decl.transactionArgs(d)
	case DerivedPopulation:
		nullable, err = decl.populationArgs(d)
	case DerivedPredicted:
		err = decl.predictedArgs(d)
	}
	if err != nil {
		return nil, 0, false, err
	}
	return d, fn.typ, nullable, nil
}

// lookupIn finds facts among fs by name, and lists their names.
func lookupIn(fs []Field) (func(string) (Field, bool), []string) {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return func(name string) (Field, bool) {
		for _, f := range fs {
			if f.Name == name {
				return f, true
			}
		}
		return Field{}, false
	}, names
}

// lintDerived counts the facts that population facts read as read, so
// that lint does not call them unused, and warns about a derived fact
// that nothing reads (an rfm declaration is read when any of its four
// facts is).
func (l *loader) lintDerived(rs *RuleSet, c *exprCompiler) {
	inputs := map[string]bool{}
	for _, d := range rs.Derived() {
		for _, in := range d.Field.Derived.Inputs {
			inputs[in] = true
			c.usedFacts[in] = true
		}
	}
	groups := map[string]bool{}
	for _, d := range rs.Derived() {
		if c.usedFacts[d.Field.Name] {
			groups[d.Field.Derived.Group] = true
		}
	}
	for _, d := range rs.Derived() {
		dv := d.Field.Derived
		if c.usedFacts[d.Field.Name] || inputs[d.Field.Name] || (dv.Group != "" && (groups[dv.Group] || dv.Part != RFMCode)) {
			continue
		}
		l.report(SeverityWarning, d.Field.Pos, "derived."+d.Field.Name, "remove it if no rule needs it", "derived fact %q is never read", d.Field.Name)
	}
	for _, d := range rs.Derived() {
		c.usedFacts[d.Field.Name] = true // reported above, not again as a declared fact
	}
}
