package main

import (
	"context"
	"flag"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Shell completion reads each command's flags from the command itself:
// the command is run with an app whose flags field is set, so that
// app.parse hands over the FlagSet (and app.flagSet the usage text)
// instead of parsing, and the command returns before doing anything.
// Nothing is listed twice: a new flag, a new --format or a new
// positional argument in a usage line is completed as soon as it exists.

// flagCapture is what a command showed of itself before it would parse.
type flagCapture struct {
	fs    *flag.FlagSet
	usage string
}

// commandFlags runs c with args (a subcommand, for actions) to capture its
// FlagSet and usage text; fs is nil when c stops before parsing flags.
// The command sees no environment, so it can open nothing; it writes to
// io.Discard.
func commandFlags(ctx context.Context, c command, args []string) flagCapture {
	capture := &flagCapture{}
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" },
		now: func() time.Time { return time.Time{} }, flags: capture}
	c.run(ctx, a, args)
	return *capture
}

// takesValue reports whether f is given a value (--f VALUE), not a
// boolean switch.
func takesValue(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// parenRE matches a parenthesised aside, one level deep.
var parenRE = regexp.MustCompile(`\s*\([^()]*\)`)

// choiceRE is one choice of a list: a lower-case word.
var choiceRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// flagChoices are the values a flag's usage text lists, as the help
// shows them: "output `format`: text, json (docs/output.md) or csv",
// "population: retail or b2b", "csv or jsonl (default: ...)", "text; for
// rule files json or sarif; with --data json or csv". Asides in
// parentheses are dropped; the list is the text after the last colon, or
// the whole text, in clauses split by semicolons. Nil unless that gives
// at least two words.
func flagChoices(usage string) []string {
	text := usage
	for prev := ""; prev != text; {
		prev, text = text, parenRE.ReplaceAllString(text, "")
	}
	if i := strings.LastIndex(text, ": "); i >= 0 {
		text = text[i+2:]
	}
	var out []string
	for _, clause := range strings.Split(text, ";") {
		for _, c := range clauseChoices(clause) {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// clauseChoices are the words of one clause of a list: one word, or
// "a, b or c", maybe after a qualifier ("for rule files a or b").
func clauseChoices(clause string) []string {
	clause = strings.ReplaceAll(clause, ", or ", ", ")
	clause = strings.ReplaceAll(clause, " or ", ", ")
	parts := strings.Split(strings.TrimSpace(clause), ", ")
	first := strings.Fields(parts[0])
	qualified := len(first) > 1 && (first[0] == "for" || first[0] == "with")
	if len(first) == 0 || (len(first) > 1 && (!qualified || len(parts) == 1)) {
		return nil
	}
	parts[0] = first[len(first)-1]
	for _, p := range parts {
		if !choiceRE.MatchString(p) {
			return nil
		}
	}
	return parts
}

// description is a flag's usage text as a one-line description.
func description(usage string) string {
	usage = strings.Join(strings.Fields(strings.ReplaceAll(usage, "`", "")), " ")
	if len(usage) > 80 {
		if cut := strings.LastIndex(usage[:77], " "); cut > 0 {
			return usage[:cut] + "..."
		}
	}
	return usage
}

// argKinds are what the positional arguments are, from the usage line of
// the command (the first one naming it): "Usage: tierflow sizes [flags]
// [RULESET]" gives RULESET; flags and their values are left out. The last
// kind repeats when it ends with "...".
func argKinds(usage, name string) []string {
	for _, line := range strings.Split(usage, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "Usage:"))
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ') {
			continue
		}
		return placeholders(strings.Fields(rest))
	}
	return nil
}

// placeholders are the words of a usage line that stand for positional
// arguments: not flags, their values or bracketed flag groups.
func placeholders(words []string) []string {
	var out []string
	inFlag := false // inside [--flag VALUE]
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case inFlag:
			inFlag = !strings.HasSuffix(w, "]")
		case strings.HasPrefix(w, "[-"):
			inFlag = !strings.HasSuffix(w, "]")
		case w == "[flags]":
		case strings.HasPrefix(w, "-"):
			i++ // --facts FILE
		default:
			out = append(out, strings.Trim(w, "[]"))
		}
	}
	return out
}
