package views

import (
	"io"
	"strings"
)

// Style colours text output for a terminal that renders ANSI escape
// codes. The zero Style colours nothing: it is what every output gets
// unless a command asks for colour (docs/output.md, "Colour"), and what
// JSON, CSV and markdown always get.
type Style struct{ colour bool }

// Colour is the Style of a terminal that shows colour.
var Colour = Style{colour: true}

// The ANSI escape codes the styles use: SGR attributes, reset after each
// coloured span so that nothing leaks into the next line.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// On reports whether s adds colour.
func (s Style) On() bool { return s.colour }

func (s Style) paint(code, text string) string {
	if !s.colour || text == "" {
		return text
	}
	return code + text + ansiReset
}

// Error colours an error's prefix, such as "tierflow:", bold red.
func (s Style) Error(text string) string { return s.paint(ansiBold+ansiRed, text) }

// Warning colours a warning yellow.
func (s Style) Warning(text string) string { return s.paint(ansiYellow, text) }

// Hint colours a hint, the part of an error that says how to fix it, cyan.
func (s Style) Hint(text string) string { return s.paint(ansiCyan, text) }

// ErrorText is prefix (such as "tierflow:"), a space and message, styled
// for a terminal: prefix as an error, and on each line a closing parenthesised
// hint, "... (run tierflow migrate first)", as a hint. The rest of the
// message, snippets included, is left as it is, to stay readable.
func (s Style) ErrorText(prefix, message string) string {
	if !s.colour {
		return prefix + " " + message
	}
	lines := strings.Split(message, "\n")
	for i, line := range lines {
		if open := trailingHint(line); open > 0 {
			lines[i] = line[:open] + s.Hint(line[open:])
		}
	}
	return s.Error(prefix) + " " + strings.Join(lines, "\n")
}

// trailingHint is where the parenthesised hint that ends line opens, or
// -1 when it ends with none.
func trailingHint(line string) int {
	if !strings.HasSuffix(line, ")") {
		return -1
	}
	depth := 0
	for i := len(line) - 1; i >= 0; i-- {
		switch line[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				if i == 0 || line[i-1] != ' ' {
					return -1 // a call such as days_since(x), not a hint
				}
				return i
			}
		}
	}
	return -1
}

// A move's direction in a segmentation, by the order its segments are
// listed in (the first ranks highest), as tierflow report's move matrix
// classifies them.
const (
	moveIn   = "in"   // from no segment
	moveOut  = "out"  // to no segment
	moveUp   = "up"   // to a segment listed earlier
	moveDown = "down" // to one listed later, or to one the rules no longer define
)

// move colours a move's text by its direction: up green, down red, out
// yellow; a customer's first segment (in) is not coloured.
func (s Style) move(direction, text string) string {
	switch direction {
	case moveUp:
		return s.paint(ansiGreen, text)
	case moveDown:
		return s.paint(ansiRed, text)
	case moveOut:
		return s.paint(ansiYellow, text)
	}
	return text
}

// moveDirection says where a move from one segment to another goes among
// segments, listed in rank order. A segment not among them (one the
// rules no longer define, "(removed)") ranks below every listed one.
func moveDirection(segments []string, from, to string) string {
	switch {
	case from == "":
		return moveIn
	case to == "":
		return moveOut
	}
	rank := func(name string) int {
		for i, s := range segments {
			if s == name {
				return i
			}
		}
		return len(segments)
	}
	if rank(to) < rank(from) {
		return moveUp
	}
	return moveDown
}

// styledWriter is a writer that carries the Style its text should have.
type styledWriter struct {
	io.Writer
	style Style
}

// WithStyle returns a writer that writes to w and asks the views for
// Style s. The constructors (NewPlan ...) take the style from it for
// text and ignore it for every other format, so that colour is chosen in
// one place and only ever reaches a terminal's text.
func WithStyle(w io.Writer, s Style) io.Writer {
	if !s.colour {
		return w
	}
	return styledWriter{Writer: w, style: s}
}

// styleOf is the writer under w and the Style it asks for.
func styleOf(w io.Writer) (io.Writer, Style) {
	if sw, ok := w.(styledWriter); ok {
		return sw.Writer, sw.style
	}
	return w, Style{}
}
