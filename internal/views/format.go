package views

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// FormatVersion is the format_version of the JSON documents for explain,
// runs, history and the action list (docs/output.md). Plan, apply and
// preview reports carry jobs.ReportFormatVersion. A version changes only
// when a field changes meaning or is removed; fields may be added in any
// version.
const FormatVersion = 1

// Format is an output format.
type Format string

// The output formats.
const (
	Text     Format = "text"
	JSON     Format = "json"
	Markdown Format = "markdown"
	CSV      Format = "csv"
)

// reportFormats are the formats of plans, diffs and explanations;
// tableFormats those of runs, history and the action list.
var (
	reportFormats = []Format{Text, JSON, Markdown}
	tableFormats  = []Format{Text, JSON, Markdown, CSV}
)

// parseFormat picks one of allowed by name. "md" is kept for markdown, as
// plan accepted it before the formats were unified.
func parseFormat(name string, allowed []Format) (Format, error) {
	if name == "md" {
		name = string(Markdown)
	}
	for _, f := range allowed {
		if Format(name) == f {
			return f, nil
		}
	}
	names := make([]string, len(allowed))
	for i, f := range allowed {
		names[i] = string(f)
	}
	list := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	return "", fmt.Errorf("--format %q: use %s", name, list)
}

// writeJSON writes v as one indented JSON document. HTML is not escaped,
// so conditions such as a >= b stay readable.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
