package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// loader walks one file's YAML nodes, collecting every problem it finds
// rather than stopping at the first.
type loader struct {
	file  string
	src   []byte
	diags []Diagnostic
	// brokenFacts names facts whose declaration has an error, so that
	// expressions reading them do not add a second, misleading one.
	brokenFacts map[string]bool
	// lines is src split into lines and runes caches some of them as
	// runes, for snippets and expression positions.
	lines []string
	runes map[int][]rune
}

func (l *loader) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: l.file}
	}
	return Pos{File: l.file, Line: n.Line, Col: n.Column}
}

func (l *loader) report(sev Severity, p Pos, field, hint, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{
		Pos:      p,
		Severity: sev,
		Field:    field,
		Message:  fmt.Sprintf(format, args...),
		Hint:     hint,
		Snippet:  snippet(l.lineRunes(p.Line), p.Line, p.Col),
	})
}

// lineCount returns the number of lines in the source.
func (l *loader) lineCount() int {
	if l.lines == nil {
		l.lines = strings.Split(string(l.src), "\n")
	}
	return len(l.lines)
}

// lineRunes returns line n (1-based) of the source as runes, without its
// line break, or nil when there is no such line.
func (l *loader) lineRunes(n int) []rune {
	if n < 1 || n > l.lineCount() {
		return nil
	}
	if r, ok := l.runes[n]; ok {
		return r
	}
	if l.runes == nil {
		l.runes = map[int][]rune{}
	}
	r := []rune(strings.TrimSuffix(l.lines[n-1], "\r"))
	l.runes[n] = r
	return r
}

func (l *loader) errorf(n *yaml.Node, field, hint, format string, args ...any) {
	l.report(SeverityError, l.pos(n), field, hint, format, args...)
}

func (l *loader) failed() bool {
	for _, d := range l.diags {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

var kindNames = map[yaml.Kind]string{
	yaml.DocumentNode: "a document",
	yaml.SequenceNode: "a list",
	yaml.MappingNode:  "a mapping (key: value lines)",
	yaml.ScalarNode:   "a single value",
	yaml.AliasNode:    "an alias",
}

// pair is one key and its value in a YAML mapping, in file order.
type pair struct {
	Key   string
	KeyN  *yaml.Node
	Value *yaml.Node
}

// pairs returns a mapping's entries in order, reporting duplicate keys.
func (l *loader) pairs(n *yaml.Node, field string) []pair {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			return nil
		}
		l.errorf(n, field, "", "must be %s, not %s", kindNames[yaml.MappingNode], kindNames[n.Kind])
		return nil
	}
	seen := map[string]*yaml.Node{}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, field, "", "keys must be plain names")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			l.errorf(k, join(field, k.Value), fmt.Sprintf("the first is on line %d", prev.Line), "%q is defined twice", k.Value)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{Key: k.Value, KeyN: k, Value: v})
	}
	return out
}

// mapping decodes a mapping whose keys must come from allowed, reporting
// unknown keys with a "did you mean" hint.
func (l *loader) mapping(n *yaml.Node, field string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for _, p := range l.pairs(n, field) {
		if !contains(allowed, p.Key) {
			hint := suggest(p.Key, allowed)
			if hint == "" {
				hint = oneOf(allowed)
			}
			l.errorf(p.KeyN, join(field, p.Key), hint, "unknown key %q", p.Key)
			continue
		}
		out[p.Key] = p.Value
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func (l *loader) seq(n *yaml.Node, field string) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, field, "start each item with \"- \"", "must be %s, not %s", kindNames[yaml.SequenceNode], kindNames[n.Kind])
		return nil
	}
	return n.Content
}

func (l *loader) scalar(n *yaml.Node, field string) (string, bool) {
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, field, "", "must be %s, not %s", kindNames[yaml.ScalarNode], kindNames[n.Kind])
		return "", false
	}
	return n.Value, true
}

func (l *loader) str(n *yaml.Node, field string) string {
	s, _ := l.scalar(n, field)
	return s
}

func (l *loader) required(m map[string]*yaml.Node, parent *yaml.Node, field, key, example string) *yaml.Node {
	n, ok := m[key]
	if !ok || isNull(n) {
		l.errorf(parent, join(field, key), example, "%q is required", key)
		return nil
	}
	return n
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validName reports whether s can be used as a name: lower-case letters,
// digits and underscores, starting with a letter.
func validName(s string) bool { return nameRE.MatchString(s) && len(s) <= 63 }

func (l *loader) name(n *yaml.Node, field string) string {
	s, ok := l.scalar(n, field)
	if !ok {
		return ""
	}
	if !validName(s) {
		l.errorf(n, field, "use lower-case letters, digits and _, starting with a letter, at most 63 characters; put display text in label", "%q is not a valid name", s)
		return ""
	}
	return s
}

func (l *loader) integer(n *yaml.Node, field string) int {
	s, ok := l.scalar(n, field)
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		l.errorf(n, field, "", "%q is not a whole number", s)
	}
	return i
}

func (l *loader) boolean(n *yaml.Node, field string) bool {
	s, ok := l.scalar(n, field)
	if !ok {
		return false
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	l.errorf(n, field, "", "%q is not true or false", s)
	return false
}

func (l *loader) duration(n *yaml.Node, field string) time.Duration {
	s, ok := l.scalar(n, field)
	if !ok {
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil {
		l.errorf(n, field, "", "%v", err)
	}
	return d
}

// ParseDuration parses a duration as rule files write it: whole days
// ("30d"), weeks ("2w"), or a Go duration ("36h", "90m"). Negative
// durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a duration (write 30d, 2w or 12h)", s)
	if s == "" {
		return 0, bad
	}
	if unit := s[len(s)-1]; unit == 'd' || unit == 'w' {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n < 0 {
			return 0, bad
		}
		day := 24 * time.Hour
		if unit == 'w' {
			day *= 7
		}
		if n > 100*366 {
			return 0, fmt.Errorf("%q is longer than a hundred years", s)
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// FormatDuration writes d the way rule files do: "30d" for whole days.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// rejectAliases reports anchors and aliases: they make files hard to read
// and can expand a small file into a huge one.
func (l *loader) rejectAliases(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		l.errorf(n, "", "write the value out, or use params for shared numbers", "YAML anchors and aliases (& and *) are not supported")
		return
	}
	for _, c := range n.Content {
		l.rejectAliases(c)
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into diagnostics with positions.
func (l *loader) yamlError(err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if m := yamlLineRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			n = l.problemLine(n, m[2])
			p, hint := l.syntaxHint(n, m[2])
			if q, ok := l.flowQuestionMark(n); ok {
				p, hint = q, `YAML cannot read a type ending in ? inside {...} or [...]: quote it ("time?"), write nullable: true, or use one key per line`
			}
			l.report(SeverityError, p, "", hint, "YAML syntax: %s", m[2])
			continue
		}
		if line != "" && line != "yaml: unmarshal errors:" {
			l.report(SeverityError, Pos{File: l.file}, "", "", "YAML syntax: %s", strings.TrimPrefix(line, "yaml: "))
		}
	}
}

// problemLine returns the line where the syntax error yaml.v3 reports
// at line n with message msg really is. yaml.v3 names the line of the
// mapping or sequence it was parsing (libyaml's context mark) rather than
// where parsing failed (its problem mark), which it does not export: an
// expression three lines further down is reported at its segment's
// "- name:". The first prefix of the file, cut after a whole line, that
// fails with the same message ends on the problem's line; prefixes grow
// from n, and once one holds the problem every longer one fails with it,
// so a binary search finds it.
func (l *loader) problemLine(n int, msg string) int {
	lines := l.lineCount()
	if n < 1 || n > lines {
		return n
	}
	fails := func(k int) bool {
		var doc yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(l.lines[:k], "\n")), &doc)
		if err == nil {
			return false
		}
		m := yamlLineRE.FindStringSubmatch(strings.TrimSpace(strings.Split(err.Error(), "\n")[0]))
		return m != nil && m[2] == msg
	}
	lo, hi := n, lines // the answer is in [lo, hi] when hi fails
	if !fails(hi) {
		return n
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// quotedStartRE matches a value that starts with a quoted string and goes
// on after it: `when: "vip" == segment.x`, which YAML reads as the string
// "vip" followed by stray text.
var quotedStartRE = regexp.MustCompile(`^(\s*(?:-\s+)?[\w.]+:\s+)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*[^\s#]`)

// syntaxHint returns where on line n to point and what to suggest.
func (l *loader) syntaxHint(n int, msg string) (Pos, string) {
	text := l.lineRunes(n)
	p := Pos{File: l.file, Line: n}
	for i, r := range text {
		if r != ' ' && r != '\t' {
			p.Col = i + 1
			break
		}
	}
	if m := quotedStartRE.FindStringSubmatchIndex(string(text)); m != nil {
		p.Col = len([]rune(string(text)[:m[5]])) + 1
		return p, "a value that starts with a quote ends with the matching quote; to start an expression with a string, quote the whole expression: " +
			"when: '\"vip\" == segment.value_tier' (single quotes outside, double inside)"
	}
	if strings.HasPrefix(msg, "mapping values are not allowed") {
		// The stray ": " is the one after the key's own.
		line := string(text)
		if k := strings.Index(line, ": "); k >= 0 {
			if j := strings.Index(line[k+2:], ": "); j >= 0 {
				p.Col = len([]rune(line[:k+2+j])) + 1
			}
		}
	}
	if strings.ContainsRune(string(text), '\t') {
		return p, "YAML does not allow tabs for indentation: indent with spaces"
	}
	return p, "check indentation and quoting; an expression that contains \": \" must be quoted"
}

// flowQuestionRE finds a plain value ending in ? inside a flow mapping or
// list, such as {type: time?, label: x}, which yaml.v3 cannot parse.
var flowQuestionRE = regexp.MustCompile(`\{[^}#]*\w\?\s*[,}\]]|\[[^\]#]*\w\?\s*[,\]]`)

// flowQuestionMark looks for a value like time? in a flow collection on
// or just after line n, where yaml.v3 reports its syntax error, and
// returns the position of the ?.
func (l *loader) flowQuestionMark(n int) (Pos, bool) {
	for line := n; line <= n+1; line++ {
		text := l.lineRunes(line)
		loc := flowQuestionRE.FindStringIndex(string(text))
		if loc == nil {
			continue
		}
		q := strings.LastIndex(string(text)[:loc[1]], "?")
		return Pos{File: l.file, Line: line, Col: len([]rune(string(text)[:q])) + 1}, true
	}
	return Pos{}, false
}

// commentHint explains an expression that YAML cut short: in a plain
// (unquoted) value, a # after a space starts a comment, so
// `when: code == #1` reads as `code ==`. It returns "" unless n's value
// is followed by such a comment.
func (l *loader) commentHint(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Style != 0 || n.LineComment == "" {
		return ""
	}
	var whole string
	if line := l.lineRunes(n.Line); n.Column >= 1 && n.Column <= len(line) {
		whole = strings.TrimSpace(string(line[n.Column-1:]))
	}
	if !strings.HasPrefix(whole, n.Value) || !strings.Contains(whole, "#") {
		whole = "..." // the value spans lines: no one line shows it
	}
	return "a # starts a YAML comment: quote the expression (" + yamlQuote(whole) + ")"
}

// yamlQuote quotes s as a YAML scalar: in double quotes, or in single
// quotes when s holds a double quote or a backslash.
func yamlQuote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
