package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// Exit codes, shared by every command. They follow terraform's
// -detailed-exitcode so CI can tell "changes" from "failed".
const (
	exitOK      = 0
	exitFailure = 1 // errors, failed tests, usage mistakes
	exitChanges = 2 // plan: the run would change something
)

// app holds what commands need from the outside world, so tests can run
// commands in-process with their own writers and clock.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// now is read only at the edge, to default an as-of time; evaluation
	// itself never sees the clock.
	now func() time.Time
	// colour is --color's value: "", auto, always or never (colour.go).
	colour string
	// flags, when set, receives the FlagSet a command would parse, and the
	// command stops there: __complete reads commands' flags this way
	// (completion_flags.go).
	flags *flagCapture
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, getenv: os.Getenv, now: time.Now}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) int
}

func commands() []command {
	return []command{
		{"demo", "see tierflow work on demo customers, with no database server", runDemo},
		{"init", "start a project: a config, a starter rule set and its tests", runInit},
		{"check", "validate rule files and report every error with its position", runCheck},
		{"test", "run the test cases rule files carry, with rule coverage", runTest},
		{"explain", "show, rule by rule, how customers are classified", runExplain},
		{"migrate", "create or upgrade tierflow's schema in the database", runMigrate},
		{"plan", "show what an apply would change, writing nothing", runPlan},
		{"apply", "reclassify customers and queue actions, in one transaction", runApply},
		{"serve", "run the rule sets on their schedules, as a service", runServe},
		{"runs", "list recent runs and their outcomes", runRuns},
		{"history", "list a customer's recorded moves", runHistory},
		{"actions", "list, show, finish (done, fail), retry or cancel queued actions", runActions},
		{"coverage", "show how many of each segment's customers were followed up in time", runCoverage},
		{"effects", "compare treated and held-out customers, and what actions cost", runEffects},
		{"sizes", "show how many customers each class held after every apply", runSizes},
		{"report", "write an HTML report of class sizes, moves, churn and follow-ups", runReport},
		{"deliver", "deliver queued actions to webhooks and files, with retries", runDeliver},
		{"gen", "generate realistic demo customer facts (CSV, JSON Lines, PostgreSQL)", runGen},
		{"completion", "print a shell completion script for bash, zsh or fish", runCompletion},
		{"version", "print the version", runVersion},
	}
}

const mainUsage = `tierflow classifies customers with rule files reviewed like code, and
queues the follow-ups each class needs.

Usage:
  tierflow <command> [flags] [arguments]

Commands:
%s
Examples:
  tierflow check examples                       validate every rule file under examples/
  tierflow test --min-coverage 90 examples      run the rule tests, fail below 90%% coverage
  tierflow explain --facts customer.yaml examples/retail/retail.yaml

Run 'tierflow <command> --help' for a command's flags and more examples.
Rule files are documented in docs/rules.md.
`

func (a *app) usage(w io.Writer) {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, mainUsage, b.String())
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return exitFailure
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return a.run(ctx, []string{args[1], "--help"})
		}
		a.usage(a.stdout)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	case completeCommand: // hidden: the shells' completion scripts call it
		return runComplete(ctx, a, args[1:])
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, a, args[1:])
		}
	}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	// Suggest names the closest command, or lists them all.
	msg := fmt.Sprintf("unknown command %q (%s)", name, rules.Suggest(name, names))
	fmt.Fprintf(a.stderr, "%s\n\n", a.style(a.stderr).ErrorText("tierflow:", msg))
	a.usage(a.stderr)
	return exitFailure
}

// flagSet makes a FlagSet whose --help prints usage (a text with
// examples) and the flags to stdout. Every command has --color.
func (a *app) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("tierflow "+name, flag.ContinueOnError)
	a.addColourFlag(fs)
	if a.flags != nil {
		a.flags.usage = usage
	}
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(usage, "\n"))
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments
// (`tierflow test examples --min-coverage 80`) and returns the
// positional ones. ok is false when the command should exit with code.
func (a *app) parse(fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	if a.flags != nil {
		a.flags.fs = fs
		return nil, exitOK, false
	}
	for {
		// The flag package prints usage itself, on --help too; hold its
		// output back so that help goes to stdout only, and errors to
		// stderr.
		var msg bytes.Buffer
		fs.SetOutput(&msg)
		err := fs.Parse(args)
		fs.SetOutput(a.stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(a.stdout)
				fs.Usage()
				return nil, exitOK, false
			}
			a.stderr.Write(msg.Bytes()) //nolint:errcheck
			return nil, exitFailure, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// errorf prints an error, prefixed "tierflow:", coloured when stderr
// is a terminal (colour.go).
func (a *app) errorf(format string, args ...any) int {
	fmt.Fprintln(a.stderr, a.style(a.stderr).ErrorText("tierflow:", fmt.Sprintf(format, args...)))
	return exitFailure
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const versionUsage = `
Usage: tierflow version

Prints tierflow's version.

Examples:
  tierflow version
  tierflow --version
`

func runVersion(_ context.Context, a *app, args []string) int {
	if _, code, ok := a.parse(a.flagSet("version", versionUsage), args); !ok {
		return code
	}
	fmt.Fprintf(a.stdout, "tierflow %s\n", versionString())
	return exitOK
}
