package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/rules"
)

// Outputs are rendered by internal/views; what stays here is choosing the
// format from the flags, and the small helpers other commands share.

// formatFlag is a printing command's --format and its deprecated alias
// --json, with the app whose --color decides whether text is coloured.
type formatFlag struct {
	format *string
	json   *bool
	app    *app
}

// addFormatFlag adds --format (text by default; formats lists the others
// for the help, and shell completion offers the names it lists) and
// --json to fs.
func addFormatFlag(fs *flag.FlagSet, formats string) formatFlag {
	return formatFlag{
		format: fs.String("format", "text", "output `format`: "+formats),
		json:   fs.Bool("json", false, "deprecated: the same as --format json"),
		app:    appOf(fs),
	}
}

// name is the format the flags ask for.
func (f formatFlag) name() (string, error) {
	if !*f.json {
		return *f.format, nil
	}
	if *f.format != "text" && *f.format != "json" {
		return "", fmt.Errorf("--json is --format json: give one of --json and --format %s", *f.format)
	}
	return "json", nil
}

// pickView makes the view the flags ask for with mk, one of the views
// constructors, writing to w. The writer mk gets asks for colour when w
// should have it (colour.go); mk colours text only.
func pickView[V any](f formatFlag, w io.Writer, mk func(string, io.Writer) (V, error)) (V, error) {
	name, err := f.name()
	if err != nil {
		var none V
		return none, err
	}
	if f.app != nil {
		w = views.WithStyle(w, f.app.style(w))
	}
	return mk(name, w)
}

// thousands formats n with thousands separators: 1,234,567.
func thousands(n int) string { return views.Thousands(n) }

// printTrace writes the body of an explanation (tierflow test shows it
// under a failing case).
func printTrace(w io.Writer, _ *rules.RuleSet, tr *engine.Trace) { views.WriteTrace(w, tr) }

// indentWriter prefixes every line written through it.
type indentWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func indent(w io.Writer, prefix string) io.Writer { return &indentWriter{w: w, prefix: prefix} }

func (iw *indentWriter) Write(p []byte) (int, error) {
	var b bytes.Buffer
	for _, c := range p {
		if !iw.mid {
			b.WriteString(iw.prefix)
			iw.mid = true
		}
		b.WriteByte(c)
		if c == '\n' {
			iw.mid = false
		}
	}
	if _, err := iw.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
