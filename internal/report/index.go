package report

import (
	"fmt"
	"html/template"
	"io"
)

// IndexEntry is one rule set in the list of rule sets.
type IndexEntry struct {
	Name, Label string
	// Href is the address of its report.
	Href string
}

// indexView is what index.html is executed with.
type indexView struct {
	Entries []IndexEntry
	CSS     template.CSS
}

// WriteIndex writes the page that lists every rule set with a link to its
// report (tierflow serve's /report).
func WriteIndex(w io.Writer, entries []IndexEntry) error {
	v := indexView{Entries: entries, CSS: template.CSS(pageCSS)} //nolint:gosec // an embedded file
	if err := templates.ExecuteTemplate(w, "index.html", v); err != nil {
		return fmt.Errorf("write the report index: %w", err)
	}
	return nil
}
