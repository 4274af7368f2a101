package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
)

// completeCommand is the hidden command the completion scripts call:
// `tierflow __complete WORD...` is given the words after `tierflow` up
// to the cursor, the word being completed last (maybe ""), and prints
// the candidates for it, one a line, each maybe followed by a tab and a
// description; then a last line ":N", the directive. It never prints an
// error, exits 0, and opens no database.
const completeCommand = "__complete"

// The directive tells the script what the shell should offer besides the
// candidates.
const (
	directiveNone  = 0 // the candidates only
	directiveFiles = 1 // file names, as the shell completes them
	directiveDirs  = 2 // directory names only
)

// completion is __complete's answer.
type completion struct {
	cands     []candidate
	directive int
}

func runComplete(ctx context.Context, a *app, words []string) int {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	c := complete(ctx, words[:len(words)-1], cur)
	for _, cand := range c.cands {
		if !strings.HasPrefix(cand.value, cur) {
			continue
		}
		if d := strings.Join(strings.Fields(cand.desc), " "); d != "" {
			fmt.Fprintf(a.stdout, "%s\t%s\n", cand.value, d)
		} else {
			fmt.Fprintln(a.stdout, cand.value)
		}
	}
	fmt.Fprintf(a.stdout, ":%d\n", c.directive)
	return exitOK
}

// subcommands are the subcommands of the command name, nil for a command
// without.
func subcommands(name string) []string {
	if name == "actions" {
		return actionSubcommands
	}
	return nil
}

// complete completes cur, the word after the words before.
func complete(ctx context.Context, before []string, cur string) completion {
	if len(before) == 0 || (before[0] == "help" && len(before) == 1) {
		return commandNames(cur)
	}
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == before[0] })
	if i < 0 {
		return completion{}
	}
	args, sub := before[1:], []string(nil)
	if subs := subcommands(before[0]); subs != nil {
		if len(args) == 0 {
			return completion{cands: plain(subs, "")}
		}
		if !slices.Contains(subs, args[0]) {
			return completion{}
		}
		sub, args = args[:1], args[1:]
	}
	fc := commandFlags(ctx, commands()[i], sub)
	if fc.fs == nil {
		return completion{}
	}
	return scanLine(fc, args).complete(cur)
}

// commandNames completes a command name, or a top-level flag.
func commandNames(cur string) completion {
	if strings.HasPrefix(cur, "-") {
		return completion{cands: []candidate{{"--help", "the commands"}, {"--version", "print the version"}}}
	}
	var cs []candidate
	for _, c := range commands() {
		cs = append(cs, candidate{c.name, c.summary})
	}
	return completion{cands: append(cs, candidate{"help", "a command's flags and examples"})}
}

// plain makes candidates of values, all described as desc.
func plain(values []string, desc string) []candidate {
	out := make([]candidate, len(values))
	for i, v := range values {
		out[i] = candidate{v, desc}
	}
	return out
}

// line is what a command line gives before the word being completed.
type line struct {
	flagCapture
	kinds      []string          // the positional arguments' kinds (argKinds)
	values     map[string]string // flags given, by name
	positional []string
	pending    *flag.Flag // the flag whose value the word being completed is
	dashdash   bool       // after --, every word is positional
}

// scanLine reads the command's arguments before the word being completed.
func scanLine(fc flagCapture, args []string) *line {
	l := &line{flagCapture: fc, kinds: argKinds(fc.usage, fc.fs.Name()), values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		w := args[i]
		isFlag := !l.dashdash && len(w) > 1 && w[0] == '-' && w != "--"
		name := strings.TrimPrefix(strings.TrimPrefix(w, "-"), "-")
		switch {
		case w == "--" && !l.dashdash:
			l.dashdash = true
		case !isFlag:
			l.positional = append(l.positional, w)
		default:
			n, v, hasValue := strings.Cut(name, "=")
			f := l.fs.Lookup(n)
			switch {
			case f == nil:
			case hasValue || !takesValue(f):
				l.values[n] = v
			case i+1 < len(args):
				l.values[n] = args[i+1]
				i++
			default:
				l.pending = f
			}
		}
	}
	return l
}

// complete completes the word cur.
func (l *line) complete(cur string) completion {
	if l.pending != nil {
		return l.flagValue(l.pending, "")
	}
	if l.dashdash || !strings.HasPrefix(cur, "-") {
		return l.argument(kindAt(l.kinds, len(l.positional)))
	}
	if i := strings.Index(cur, "="); i > 0 {
		if f := l.fs.Lookup(strings.TrimLeft(cur[:i], "-")); f != nil && takesValue(f) {
			return l.flagValue(f, cur[:i+1])
		}
		return completion{}
	}
	dash := "--"
	if cur != "-" && !strings.HasPrefix(cur, "--") {
		dash = "-" // -flag, as the flag package accepts too
	}
	cs := []candidate{{dash + "help", "the command's flags and examples"}}
	l.fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Usage, "deprecated:") {
			cs = append(cs, candidate{dash + f.Name, description(f.Usage)})
		}
	})
	return completion{cands: cs}
}

// flagValue completes the value of f, each candidate after prefix
// ("--format=" when the word is --format=...).
func (l *line) flagValue(f *flag.Flag, prefix string) completion {
	var cs []candidate
	switch f.Name {
	case "ruleset":
		cs = l.names().ruleSets
	case "segmentation":
		cs = l.names().segmentations
	case "action":
		cs = l.names().actions
	case "outcome":
		cs = l.names().outcomes
	case "destination":
		cs = l.names().destinations
	default:
		if choices := flagChoices(f.Usage); choices != nil && !numeric[placeholderOf(f)] {
			cs = plain(choices, "")
		}
	}
	if cs == nil {
		return pathsFor(placeholderOf(f))
	}
	out := make([]candidate, len(cs))
	for i, c := range cs {
		out[i] = candidate{prefix + c.value, c.desc}
	}
	return completion{cands: out}
}

// numeric are the placeholders flag.UnquoteUsage gives numbers and
// durations, whose usage never lists their values.
var numeric = map[string]bool{"int": true, "uint": true, "float": true, "duration": true}

// placeholderOf is the name of f's value in the help: "file" for
// "config `file`".
func placeholderOf(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	return name
}

// pathsFor completes a value named placeholder in the help: a file or
// a directory, else nothing.
func pathsFor(placeholder string) completion {
	switch placeholder {
	case "file":
		return completion{directive: directiveFiles}
	case "directory", "revision":
		return completion{directive: directiveDirs}
	}
	return completion{}
}

// kindAt is the kind of positional argument i: the kinds' i-th, or the
// last when it repeats (PATH...); "" (files) for a command whose usage
// line names none, and "none" past the last.
func kindAt(kinds []string, i int) string {
	switch {
	case len(kinds) == 0:
		return ""
	case i < len(kinds):
		return strings.TrimSuffix(kinds[i], "...")
	case strings.HasSuffix(kinds[len(kinds)-1], "..."):
		return strings.TrimSuffix(kinds[len(kinds)-1], "...")
	}
	return "none"
}

// argument completes a positional argument of kind.
func (l *line) argument(kind string) completion {
	switch {
	case kind == "RULESET":
		return completion{cands: l.names().ruleSets}
	case strings.Contains(kind, "|"):
		return completion{cands: plain(strings.Split(kind, "|"), "")}
	case kind == "DIR":
		return completion{directive: directiveDirs}
	case kind == "none" || kind == "ID" || kind == "KEY":
		return completion{}
	}
	return completion{directive: directiveFiles}
}

// names reads the project's names: from the rule files the line names
// as arguments, else from the config it names (or tierflow.yaml); for
// the rule set it names with --ruleset or a RULESET argument.
func (l *line) names() projectNames {
	var paths []string
	ruleSet := l.values["ruleset"]
	for i, p := range l.positional {
		switch kindAt(l.kinds, i) {
		case "RULESET":
			ruleSet = p
		case "", "PATH", "RULES":
			paths = append(paths, p)
		}
	}
	return loadNames(l.values["config"], paths, ruleSet)
}
