package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/mattn/go-runewidth"
)

// Pos is a position in a rule file. Line and Col are 1-based; a zero Line
// means the position is unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Severity tells errors, which stop a rule set from loading, from warnings,
// which do not.
type Severity int

// Severities of a diagnostic.
const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a rule file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	// Field is the dotted path of the field at fault, such as
	// "segmentations.value_tier.segments.vip.when".
	Field string
	// Message says what is wrong; Hint, when set, says how to fix it.
	Message string
	Hint    string
	// Snippet is the offending source line with a caret under Pos.Col.
	Snippet string
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString(" (")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	if d.Snippet != "" {
		b.WriteString("\n")
		b.WriteString(d.Snippet)
	}
	return b.String()
}

// Error makes a Diagnostic usable as an error.
func (d Diagnostic) Error() string { return d.String() }

// ErrorList holds every error found while loading one or more rule files.
// It is returned as an error when at least one diagnostic is an error.
type ErrorList []Diagnostic

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, d := range l {
		parts[i] = d.String()
	}
	return strings.Join(parts, "\n")
}

// sortDiagnostics orders diagnostics by file, line and column so output is
// stable and reads top to bottom.
func sortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// PosAt is the file position of the character at offset (in runes, as
// expr's locations count) of e's Source: exact where e is Linear, else
// where the expression starts.
func (e *Expr) PosAt(offset int) Pos {
	if !e.Linear {
		if e.SourcePos.Line > 0 {
			return e.SourcePos
		}
		return e.Pos
	}
	p := e.SourcePos
	p.Col += offset
	return p
}

// DiagnosticAt is an error at the character at offset of e's Source,
// as the loader reports one: the position (PosAt), e's field, the message
// and hint, and, where e is Linear, the expression with a caret under the
// character.
func (e *Expr) DiagnosticAt(offset int, message, hint string) Diagnostic {
	d := Diagnostic{Pos: e.PosAt(offset), Field: e.Field, Message: message, Hint: hint}
	if e.Linear {
		d.Snippet = snippet([]rune(e.Source), d.Pos.Line, offset+1)
	}
	return d
}

// snippetRunes bounds how much of a long line a snippet shows: a window
// around the caret, so that one huge line cannot make every diagnostic on
// it huge.
const snippetRunes = 120

// snippet renders text, line number line of a file, with a caret under
// col (1-based, counted in runes; 0 points at the first non-blank
// character), aligned for wide characters such as 客户.
func snippet(text []rune, line, col int) string {
	indent := 0
	for indent < len(text) && (text[indent] == ' ' || text[indent] == '\t') {
		indent++
	}
	if indent == len(text) {
		return ""
	}
	if col < 1 {
		col = indent + 1
	}
	col = min(col, len(text)+1)
	from, to := 0, len(text)
	prefix, suffix := "", ""
	if len(text) > snippetRunes {
		from = max(0, min(col-1-snippetRunes/2, len(text)-snippetRunes))
		to = from + snippetRunes
		if from > 0 {
			prefix = "..."
		}
		if to < len(text) {
			suffix = "..."
		}
	}
	shown := strings.ReplaceAll(string(text[from:to]), "\t", " ")
	pad := runewidth.StringWidth(prefix + strings.ReplaceAll(string(text[from:col-1]), "\t", " "))
	num := fmt.Sprintf("%4d | ", line)
	gutter := strings.Repeat(" ", len(num)-2) + "| "
	return num + prefix + shown + suffix + "\n" + gutter + strings.Repeat(" ", pad) + "^"
}

// suggest returns a "did you mean" hint naming the candidate closest to
// name, or "" when none is close enough to be a likely typo.
func suggest(name string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(c))
		if best == "" || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	limit := len([]rune(name))/3 + 1
	if best == "" || bestDist > limit {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// nearOrOneOf returns a "did you mean" hint for name, or else the list of
// candidates.
func nearOrOneOf(name string, candidates []string) string {
	if h := suggest(name, candidates); h != "" {
		return h
	}
	return oneOf(candidates)
}

// oneOf lists allowed names for a hint when no close match exists.
// Empty names (a segment not named yet, in a file with other errors)
// are left out.
func oneOf(candidates []string) string {
	var sorted []string
	for _, c := range candidates {
		if c != "" {
			sorted = append(sorted, c)
		}
	}
	if len(sorted) == 0 {
		return ""
	}
	sort.Strings(sorted)
	return "expected one of: " + strings.Join(sorted, ", ")
}
