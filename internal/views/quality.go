package views

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// Quality renders what tierflow check --data prints: for each rule set,
// the data-quality report of its facts sources (rows, customers,
// duplicates, nulls and bad values per fact, absent customers) and every
// declared check with its outcome.
type Quality interface {
	// Report renders one rule set's report, checked at asOf.
	Report(ruleSet, label string, asOf time.Time, q *jobs.QualityReport) error
	// Failed says that the checks of ruleSet could not run, and why. Text
	// writes nothing: the command says it on stderr.
	Failed(ruleSet, message string) error
	// Close ends the output; JSON is written here, as one document.
	Close() error
}

// NewQuality returns the Quality view for format: text, json, markdown
// or csv.
func NewQuality(format string, w io.Writer) (Quality, error) {
	f, err := parseFormat(format, tableFormats)
	if err != nil {
		return nil, err
	}
	switch f {
	case JSON:
		return &qualityJSON{w: w, doc: qualityDoc{FormatVersion: FormatVersion, RuleSets: []qualityRuleSetJSON{}}}, nil
	case Markdown:
		return &qualityMarkdown{w: w}, nil
	case CSV:
		return &qualityCSV{w: w, rows: [][]string{qualityCSVHeader}}, nil
	}
	return &qualityText{w: w}, nil
}

// qualityDoc is check --data's JSON document (docs/output.md): one entry
// per rule set, with the same quality object a plan report carries.
type qualityDoc struct {
	FormatVersion int                  `json:"format_version"`
	Failed        bool                 `json:"failed"`
	RuleSets      []qualityRuleSetJSON `json:"rulesets"`
}

type qualityRuleSetJSON struct {
	RuleSet      string              `json:"ruleset"`
	RuleSetLabel string              `json:"ruleset_label,omitempty"`
	AsOf         *time.Time          `json:"as_of,omitempty"`
	Error        string              `json:"error,omitempty"`
	Quality      *jobs.QualityReport `json:"quality,omitempty"`
}

// qualityJSON holds the rule sets back and writes them on Close.
type qualityJSON struct {
	w   io.Writer
	doc qualityDoc
}

func (v *qualityJSON) Report(ruleSet, label string, asOf time.Time, q *jobs.QualityReport) error {
	v.doc.Failed = v.doc.Failed || q.Failed
	v.doc.RuleSets = append(v.doc.RuleSets, qualityRuleSetJSON{RuleSet: ruleSet, RuleSetLabel: label, AsOf: &asOf, Quality: q})
	return nil
}

func (v *qualityJSON) Failed(ruleSet, message string) error {
	v.doc.Failed = true
	v.doc.RuleSets = append(v.doc.RuleSets, qualityRuleSetJSON{RuleSet: ruleSet, Error: message})
	return nil
}

func (v *qualityJSON) Close() error { return writeJSON(v.w, v.doc) }

// qualityCSVHeader names check --data's CSV columns: one row per source
// (kind source), fact (fact), absent and left count (absent, left; in
// customers), check (check) and rule set that could not be checked
// (error).
var qualityCSVHeader = []string{"ruleset", "kind", "name", "source", "rows", "customers", "duplicates", "unmatched", "newest",
	"nulls", "invalid", "violations", "passed", "count", "message", "examples"}

// qualityCSV collects rows and writes them on Close.
type qualityCSV struct {
	w    io.Writer
	rows [][]string
}

func (v *qualityCSV) Report(ruleSet, _ string, _ time.Time, q *jobs.QualityReport) error {
	row := func(kind, name string, cells map[string]string) {
		r := make([]string, len(qualityCSVHeader))
		r[0], r[1], r[2] = ruleSet, kind, name
		for i, col := range qualityCSVHeader {
			if c, ok := cells[col]; ok {
				r[i] = c
			}
		}
		v.rows = append(v.rows, r)
	}
	for _, s := range q.Sources {
		row("source", s.Name, map[string]string{"rows": itoa(s.Rows), "customers": itoa(s.Customers), "duplicates": itoa(s.Duplicates),
			"unmatched": itoa(s.Unmatched), "newest": s.Newest})
	}
	for _, f := range q.Facts {
		row("fact", f.Name, map[string]string{"source": f.Source, "nulls": itoa(f.Nulls), "invalid": itoa(f.Invalid), "violations": itoa(f.Violations)})
	}
	row("absent", "", map[string]string{"customers": itoa(int64(q.Absent))})
	row("left", "", map[string]string{"customers": itoa(int64(q.Left))})
	for _, c := range q.Checks {
		passed := "false"
		if c.Passed {
			passed = "true"
		}
		row("check", c.Check, map[string]string{"passed": passed, "count": itoa(c.Count), "message": c.Message, "examples": strings.Join(c.Examples, "; ")})
	}
	return nil
}

func (v *qualityCSV) Failed(ruleSet, message string) error {
	r := make([]string, len(qualityCSVHeader))
	r[0], r[1], r[14] = ruleSet, "error", message
	v.rows = append(v.rows, r)
	return nil
}

func (v *qualityCSV) Close() error { return writeCSV(v.w, v.rows) }

// examples are the examples of c its message does not already quote
// (the keys a duplicates check names), for people: a duplicates check's
// examples are keys, shown as "customer KEY".
func examples(c jobs.CheckResult) []string {
	var out []string
	for _, e := range c.Examples {
		if strings.Contains(c.Message, strconv.Quote(e)) {
			continue
		}
		if strings.HasSuffix(c.Check, ".duplicates") {
			e = "customer " + e
		}
		out = append(out, e)
	}
	return out
}

// failedChecks are the checks of q that failed, nil for a nil q.
func failedChecks(q *jobs.QualityReport) []jobs.CheckResult {
	if q == nil {
		return nil
	}
	var out []jobs.CheckResult
	for _, c := range q.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// checksFor splits the failed checks of q among a guard's reasons: the
// checks each reason states (shown under it with their examples), and
// those no reason states, which a run let through (--allow-failed-checks).
func checksFor(reasons []string, q *jobs.QualityReport) (under [][]jobs.CheckResult, rest []jobs.CheckResult) {
	under = make([][]jobs.CheckResult, len(reasons))
	for _, c := range failedChecks(q) {
		found := false
		for i, r := range reasons {
			if strings.Contains(r, c.Check+": "+c.Message) {
				under[i] = append(under[i], c)
				found = true
				break
			}
		}
		if !found {
			rest = append(rest, c)
		}
	}
	return under, rest
}

// refusal says what failed checks mean for a run: --allow-failed-checks
// lets an apply through the declared checks, never through duplicate
// keys a source refuses (its sources.NAME.duplicates check).
func refusal(q *jobs.QualityReport) string {
	dup, other := false, false
	for _, c := range failedChecks(q) {
		if strings.HasSuffix(c.Check, ".duplicates") {
			dup = true
		} else {
			other = true
		}
	}
	switch {
	case dup && other:
		return "plan and apply fail until each source returns a key once (or its on_duplicate says first or last), and then an apply is refused unless run with --allow-failed-checks"
	case dup:
		return "plan and apply fail until each source returns a key once, or its on_duplicate says first or last"
	}
	return "an apply is refused unless run with --allow-failed-checks"
}

// showSources reports whether a plan's quality section lists its
// sources: when there are several, or any has duplicates, or customers
// are absent from them.
func showSources(q *jobs.QualityReport) bool {
	if q == nil {
		return false
	}
	if len(q.Sources) > 1 || q.Absent > 0 {
		return true
	}
	for _, s := range q.Sources {
		if s.Duplicates > 0 {
			return true
		}
	}
	return false
}

// count is n things, with thousands separators: "1 row", "1,200 rows".
func count(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return Thousands(int(n)) + " " + thing + "s"
}

// absentText says how many customers the state knows that no source
// returned, and what happens to them.
func absentText(q *jobs.QualityReport) string {
	if q.Absent == 0 {
		return "no customer the state knows is missing from the facts"
	}
	what := "kept in their segments (on_missing: keep)"
	if q.Left > 0 {
		what = Thousands(q.Left) + " of them leave their segments (on_missing: exit)"
	}
	verb := " are "
	if q.Absent == 1 {
		verb = " is "
	}
	return count(int64(q.Absent), "customer") + " the state knows" + verb + "missing from the facts; " + what
}

// sourceText is one source's counts in a sentence.
func sourceText(s jobs.SourceQuality, primary bool) string {
	out := count(s.Rows, "row") + ", " + count(s.Customers, "customer")
	if s.Duplicates > 0 {
		out += ", " + count(s.Duplicates, "duplicate row") + " (on_duplicate: " + s.OnDuplicate + ")"
	}
	if !primary && s.Unmatched > 0 {
		out += ", " + count(s.Unmatched, "row") + " matching no customer of the primary source"
	}
	if s.Newest != "" {
		out += ", newest " + s.Newest
	}
	return out
}
