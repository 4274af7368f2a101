package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/tierflow/tierflow/internal/views"
)

// Colour is decided here, once for stdout and once for stderr: text
// views take the decision from the writer pickView gives their
// constructor (views.WithStyle), errors from errorf. JSON, CSV and
// markdown are never coloured, whatever is decided (docs/output.md).

// colourEnv sets --color's default, for CI logs that render ANSI codes.
const colourEnv = "TIERFLOW_COLOR"

// colourModes are --color's values.
var colourModes = []string{"auto", "always", "never"}

// colourFlag is --color; it sets its app's colour.
type colourFlag struct{ a *app }

func (f colourFlag) String() string {
	if f.a == nil {
		return ""
	}
	return f.a.colour
}

func (f colourFlag) Set(s string) error {
	if !slices.Contains(colourModes, s) {
		return fmt.Errorf("use %s", strings.Join(colourModes, ", "))
	}
	f.a.colour = s
	return nil
}

// addColourFlag adds --color to fs; app.flagSet gives every command one.
func (a *app) addColourFlag(fs *flag.FlagSet) {
	fs.Var(colourFlag{a}, "color", "colour text output and errors `when`: auto (on a terminal, unless NO_COLOR is set), always or never; default $"+colourEnv+", else auto")
}

// colourOn reports whether what is written to w gets colour: --color,
// else $TIERFLOW_COLOR, says always or never; otherwise (auto) when w is
// a terminal, unless NO_COLOR is set to anything but "" (no-color.org)
// or TERM is dumb.
func (a *app) colourOn(w io.Writer) bool {
	mode := a.colour
	if mode == "" && a.getenv != nil {
		mode = strings.TrimSpace(a.getenv(colourEnv))
	}
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if a.getenv != nil && (a.getenv("NO_COLOR") != "" || a.getenv("TERM") == "dumb") {
		return false
	}
	return isTerminal(w)
}

// style is the views.Style of what is written to w.
func (a *app) style(w io.Writer) views.Style {
	if a.colourOn(w) {
		return views.Colour
	}
	return views.Style{}
}

// isTerminal reports whether w is a terminal (os.Stdout at a prompt, not
// a pipe or a file).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// appOf is the app whose flagSet made fs, for helpers that are given
// only the FlagSet (addFormatFlag); nil for another FlagSet.
func appOf(fs *flag.FlagSet) *app {
	if f := fs.Lookup("color"); f != nil {
		if cf, ok := f.Value.(colourFlag); ok {
			return cf.a
		}
	}
	return nil
}
