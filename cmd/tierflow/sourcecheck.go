package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// checkSources verifies a rule set's sources against its compiled rules,
// as every run does (jobs.Sources.Check: each fact provided once and
// declared, facts of later sources nullable, fresh_fact a time fact),
// and that a first source listing its facts leaves none unprovided. The
// problems come back as diagnostics in the config file: at the fact or
// fresh_fact they name, else at the source.
func checkSources(r *ruleSetConfig, ss jobs.Sources, rs *rules.RuleSet) []rules.Diagnostic {
	var diags []rules.Diagnostic
	for _, err := range unjoin(ss.Check(rs)) {
		diags = append(diags, sourceDiagnostic(r, rs, err.Error()))
	}
	if d, ok := unprovided(r, ss, rs); ok {
		diags = append(diags, d)
	}
	return diags
}

// unjoin returns the errors errors.Join joined, or err alone.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

// sourceDiagnostic positions one of Sources.Check's problems, msg: at the
// last source it names, and there at the fact or fresh_fact it names.
func sourceDiagnostic(r *ruleSetConfig, rs *rules.RuleSet, msg string) rules.Diagnostic {
	if len(r.Sources) == 0 {
		return rules.Diagnostic{Message: msg}
	}
	sc := r.Sources[0]
	for _, c := range r.Sources {
		if strings.Contains(msg, "source "+strconv.Quote(c.name())) {
			sc = c
		}
	}
	pos, field, hint := sc.pos, sc.field, ""
	switch {
	case sc.FreshFact != "" && strings.Contains(msg, "fresh_fact "+strconv.Quote(sc.FreshFact)):
		pos, field = sc.freshFactPos, sc.field+".fresh_fact"
		hint = "declare a time fact that dates the rows in the rule file, e.g. exported_at: time"
		if names := timeFacts(rs); len(names) > 0 {
			hint = rules.Suggest(sc.FreshFact, names)
		}
		if sc.File != "" {
			hint += "; or leave fresh_fact out to date a file source by its newest file"
		}
	default:
		for j, f := range sc.Facts {
			if !strings.Contains(msg, strconv.Quote(f)) || j >= len(sc.factPos) {
				continue
			}
			pos, field = sc.factPos[j], fmt.Sprintf("%s.facts[%d]", sc.field, j)
			if _, _, ok := rs.Facts.Lookup(f); !ok {
				hint = rules.Suggest(f, rs.Facts.Names())
			}
			break
		}
	}
	return configDiagnostic(pos, field, hint, msg)
}

// timeFacts are the names of rs's time and date facts, the candidates
// of fresh_fact.
func timeFacts(rs *rules.RuleSet) []string {
	var out []string
	for _, f := range rs.Facts.Fields {
		if f.Type == rules.TypeTime || f.Type == rules.TypeDate {
			out = append(out, f.Name)
		}
	}
	return out
}

// unprovided reports the facts of rs no source provides, which happens
// only when the first source lists its facts.
func unprovided(r *ruleSetConfig, ss jobs.Sources, rs *rules.RuleSet) (rules.Diagnostic, bool) {
	if len(ss) == 0 || len(ss[0].Provides) == 0 || len(r.Sources) == 0 {
		return rules.Diagnostic{}, false
	}
	provided := map[string]bool{}
	for _, s := range ss {
		for _, f := range s.Provides {
			provided[f] = true
		}
	}
	var missing []string
	for _, f := range rs.Facts.Fields {
		if !provided[f.Name] && f.Derived == nil {
			missing = append(missing, strconv.Quote(f.Name))
		}
	}
	if len(missing) == 0 {
		return rules.Diagnostic{}, false
	}
	sc := r.Sources[0]
	pos := sc.pos
	if len(sc.factPos) > 0 {
		pos = sc.factPos[0]
	}
	them := "them"
	if len(missing) == 1 {
		them = "it"
	}
	return configDiagnostic(pos, sc.field+".facts",
		"add "+them+" to the facts of a source, or leave facts out of the first source so that it provides every fact the others do not",
		fmt.Sprintf("no source provides %s, which %s declares", strings.Join(missing, ", "), rs.Name)), true
}

// configDiagnostic is an error at pos in the config file, found after the
// config was read (against a compiled rule set), with the caret snippet
// the config's own errors have: the file is read again for it.
func configDiagnostic(pos rules.Pos, field, hint, msg string) rules.Diagnostic {
	d := rules.Diagnostic{Pos: pos, Severity: rules.SeverityError, Field: field, Message: msg, Hint: hint}
	if pos.File == "" || pos.Line == 0 {
		return d
	}
	src, err := os.ReadFile(pos.File)
	if err != nil {
		return d
	}
	doc := rules.ParseDocument(pos.File, src)
	n := nodeAt(doc, doc.Root(), pos)
	if n == nil {
		return d
	}
	doc.Errorf(n, field, hint, "%s", msg)
	for _, got := range redactDiagnostics(doc.Diagnostics()) {
		if got.Pos == pos && got.Message == msg {
			return got
		}
	}
	return d
}

// nodeAt finds the node of doc at pos, depth first.
func nodeAt(doc *rules.Document, n *yaml.Node, pos rules.Pos) *yaml.Node {
	if n == nil {
		return nil
	}
	if doc.Pos(n) == pos {
		return n
	}
	for _, c := range n.Content {
		if found := nodeAt(doc, c, pos); found != nil {
			return found
		}
	}
	return nil
}

// configErrorsIn returns the file of the first error in diags that is not
// in the rule file rulesPath (an error in the config), or "".
func configErrorsIn(diags []rules.Diagnostic, rulesPath string) string {
	for _, d := range diags {
		if d.Severity == rules.SeverityError && d.Pos.File != rulesPath {
			return d.Pos.File
		}
	}
	return ""
}

// explainFacts is the facts of every wired rule set for explain
// --customer: a rule set's only source itself when it takes rows as they
// come (keys as they are, duplicates refused), so that a SQL or file
// source can look the one customer up; the merged sources otherwise,
// which pick the row a run would.
func (w *wiring) explainFacts() jobs.FactsByRuleSet {
	out := jobs.FactsByRuleSet{}
	for name, f := range w.facts {
		out[name] = f
		ss, ok := f.(jobs.Sources)
		if ok && len(ss) == 1 && ss[0].Key.IsZero() && len(ss[0].Provides) == 0 && ss[0].Transactions == nil &&
			(ss[0].OnDuplicate == "" || ss[0].OnDuplicate == jobs.OnDuplicateError) {
			out[name] = ss[0].Facts
		}
	}
	return out
}
