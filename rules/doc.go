// Package rules owns tierflow's rule-file format: it decodes YAML rule sets
// strictly, validates them, compiles every expression once against a typed
// environment, and reports problems as [Diagnostic] values that carry the
// file, line, column, field path and a caret snippet.
//
// The package is pure: it reads no clock, database or environment. A
// compiled [RuleSet] is immutable and safe to share between goroutines; the
// engine package evaluates it.
//
// The format itself is documented for rule authors in docs/rules.md.
package rules
