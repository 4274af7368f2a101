package views

import (
	"fmt"
	"strings"
)

// MaxMarkdownBytes keeps one report's markdown under GitHub's 65,536
// character limit for comments and job summaries, with room to spare.
const MaxMarkdownBytes = 60000

// maxTableRows caps each markdown table of a report.
const maxTableRows = 50

// md escapes text for a markdown table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\r\n", " ", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// mdCode shows s as code in a table cell: entities are not decoded in
// code, so only the pipe (which GFM unescapes in tables) and newlines are
// replaced.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("|", `\|`, "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// mdName shows a name with its label: "零售客户分群 (`retail`)".
func mdName(name, label string) string {
	if label == "" || label == name {
		return "`" + md(name) + "`"
	}
	return fmt.Sprintf("%s (`%s`)", md(label), md(name))
}

// mdBuilder writes markdown sections until a size budget is spent, then
// notes the cut.
type mdBuilder struct {
	b      strings.Builder
	budget int
	cut    bool
}

// section appends s unless it would pass the budget.
func (m *mdBuilder) section(s string) {
	if m.cut {
		return
	}
	if m.b.Len()+len(s) > m.budget {
		m.cut = true
		return
	}
	m.b.WriteString(s)
}

// table renders rows (already escaped) under a header, capped at
// maxTableRows with a note.
func table(header, align string, rows []string) string {
	var b strings.Builder
	b.WriteString(header + "\n" + align + "\n")
	for i, row := range rows {
		if i == maxTableRows {
			fmt.Fprintf(&b, "\n_… and %d more rows (see `--format json`)._\n", len(rows)-maxTableRows)
			break
		}
		b.WriteString(row + "\n")
	}
	return b.String() + "\n"
}

// fullTable renders every row: for lists a flag such as --limit already
// bounds.
func fullTable(header, align string, rows []string) string {
	return header + "\n" + align + "\n" + strings.Join(rows, "\n") + "\n\n"
}
