package rules

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// Document reads a YAML file other than a rule set, such as tierflow.yaml,
// as strictly as rule files are read: it walks the file's nodes, and every
// problem it or its caller finds becomes a [Diagnostic] with the file,
// line, column, field path, caret snippet and "did you mean" hint that rule
// files get. It collects every problem instead of stopping at the first.
//
// Syntax errors, a second YAML document, anchors and aliases, and duplicate
// keys are errors, as in rule files. The methods that read a node take the
// dotted field path of that node for their diagnostics and treat a nil or
// null node as absent.
type Document struct {
	l    loader
	root *yaml.Node
}

// Entry is one key and its value in a YAML mapping.
type Entry struct {
	Key     string
	KeyNode *yaml.Node
	Value   *yaml.Node
}

// ParseDocument parses src, the content of file (named in diagnostics).
// Root is nil when the file is empty or only comments, and when it could
// not be parsed or uses anchors; Err tells these apart.
func ParseDocument(file string, src []byte) *Document {
	d := &Document{l: loader{file: file, src: src}}
	if len(src) > MaxFileBytes {
		d.l.report(SeverityError, Pos{File: file}, "", "", "file is %d bytes; the limit is %d", len(src), MaxFileBytes)
		return d
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err.Error() != "EOF" {
			d.l.yamlError(err)
			for i := range d.l.diags {
				d.l.diags[i].Hint = "check indentation and quoting; a value that contains \": \" must be quoted"
			}
		}
		return d
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.l.report(SeverityError, Pos{File: file, Line: extra.Line}, "",
			"remove the --- line and what follows, or merge it into the first document",
			"a file holds one YAML document, but a second one starts here")
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return d
	}
	errs := len(d.l.diags)
	d.rejectAliases(doc.Content[0])
	if len(d.l.diags) == errs {
		d.root = doc.Content[0]
	}
	return d
}

// rejectAliases reports anchors and aliases, as rule files do.
func (d *Document) rejectAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.Errorf(n, "", "write the value out", "YAML anchors and aliases (& and *) are not supported")
		return
	}
	for _, c := range n.Content {
		d.rejectAliases(c)
	}
}

// Root returns the document's top-level node, or nil.
func (d *Document) Root() *yaml.Node { return d.root }

// Pos returns where n is in the file.
func (d *Document) Pos(n *yaml.Node) Pos { return d.l.pos(n) }

// Errorf records an error at n for the field; hint, when not "", says how
// to fix it.
func (d *Document) Errorf(n *yaml.Node, field, hint, format string, args ...any) {
	d.l.errorf(n, field, hint, format, args...)
}

// Diagnostics returns everything recorded so far, in file order.
func (d *Document) Diagnostics() []Diagnostic {
	out := append([]Diagnostic(nil), d.l.diags...)
	sortDiagnostics(out)
	return out
}

// Err returns the diagnostics as an [ErrorList] when any is an error, and
// nil otherwise.
func (d *Document) Err() error {
	if !d.l.failed() {
		return nil
	}
	return ErrorList(d.Diagnostics())
}

// Mapping returns the entries of mapping n by key, reporting keys not in
// allowed with a "did you mean" hint, and duplicate keys. ok is false when
// n is neither a mapping nor null, which has been reported.
func (d *Document) Mapping(n *yaml.Node, field string, allowed ...string) (m map[string]*yaml.Node, ok bool) {
	return d.l.mapping(n, field, allowed...), isNull(n) || n.Kind == yaml.MappingNode
}

// Entries returns the entries of mapping n in file order, for mappings
// whose keys are names the file chooses, reporting duplicate keys.
func (d *Document) Entries(n *yaml.Node, field string) []Entry {
	ps := d.l.pairs(n, field)
	out := make([]Entry, len(ps))
	for i, p := range ps {
		out[i] = Entry{Key: p.Key, KeyNode: p.KeyN, Value: p.Value}
	}
	return out
}

// List returns the items of sequence n.
func (d *Document) List(n *yaml.Node, field string) []*yaml.Node {
	return d.l.seq(n, field)
}

// Required returns m[key], reporting at parent when it is absent or null.
func (d *Document) Required(m map[string]*yaml.Node, parent *yaml.Node, field, key, hint string) *yaml.Node {
	return d.l.required(m, parent, field, key, hint)
}

// String returns the single value n, or "" when n is absent, null or not
// a single value (which is reported).
func (d *Document) String(n *yaml.Node, field string) string {
	if isNull(n) {
		return ""
	}
	return d.l.str(n, field)
}

// Name returns n when it is a valid name: lower-case letters, digits and
// _, starting with a letter, as rule files require for theirs.
func (d *Document) Name(n *yaml.Node, field string) string {
	if isNull(n) {
		return ""
	}
	s, ok := d.l.scalar(n, field)
	if !ok {
		return ""
	}
	if !validName(s) {
		d.Errorf(n, field, "use lower-case letters, digits and _, starting with a letter, at most 63 characters", "%q is not a valid name", s)
		return ""
	}
	return s
}

// Int returns the whole number n; ok is false when n is absent, null or
// not a whole number (which is reported).
func (d *Document) Int(n *yaml.Node, field string) (v int, ok bool) {
	if isNull(n) {
		return 0, false
	}
	errs := len(d.l.diags)
	v = d.l.integer(n, field)
	return v, len(d.l.diags) == errs
}

// Bool returns n, which must be true or false; absent or null is false.
func (d *Document) Bool(n *yaml.Node, field string) bool {
	if isNull(n) {
		return false
	}
	return d.l.boolean(n, field)
}

// Suggest returns a hint for a name that is not one of candidates: "did
// you mean" the closest candidate, or else the list of them.
func Suggest(name string, candidates []string) string {
	return nearOrOneOf(name, candidates)
}
