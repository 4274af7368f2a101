package views

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/tierflow/tierflow/internal/predict"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// RunDerived are the derived-facts reports of runs, by run id, as each
// succeeded run stored them with its plan (jobs.PlanReport.Derived).
type RunDerived map[int64]*jobs.DerivedReport

// RunsDerived is implemented by the Table views that show, with each run,
// how it derived its facts, notably the fits of the models of its
// predicted facts (text, json). tierflow runs uses it when a run has
// them, and Table.Runs otherwise.
type RunsDerived interface {
	RunsDerived(runs []kernel.Run, segments RunSegments, derived RunDerived) error
}

// RunsDerived is Runs with each model's fit under its run.
func (v tableText) RunsDerived(runs []kernel.Run, segments RunSegments, derived RunDerived) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(v.w, "no runs yet")
		return err
	}
	return flush(v.w, func(b *bytes.Buffer) {
		const row = "%-6s %-12s %-10s %-17s %-10s %9s %10s %9s %8s %7s  %s\n"
		fmt.Fprintf(b, row, "run", "ruleset", "kind", "slot / as-of", "status", "took", "customers", "changed", "actions", "errors", "error")
		for _, r := range runs {
			fmt.Fprintf(b, row, fmt.Sprint(r.ID), r.RuleSet, r.KindText(), runWhen(r).Format("2006-01-02 15:04"), r.Status, runTook(r),
				Thousands(int(r.Customers)), Thousands(int(r.Changed)), Thousands(int(r.Actions)), Thousands(int(r.Errors)), deref(r.Error))
			if d := derived[r.ID]; d != nil {
				for _, m := range d.Models {
					fmt.Fprintf(b, "       %s\n", FitLine(m))
				}
			}
			for _, sr := range segments[r.ID] {
				fmt.Fprintf(b, "       %s: %s\n", sr.Name, segmentSizes(sr, "  "))
			}
		}
	})
}

// FitLine describes a model's fit in one line: "bg/nbd converged: r=0.243
// alpha=4.41 a=0.793 b=2.43, log-likelihood -9582.4, 2,357 customers
// (1,411 repeat), 24 iterations".
func FitLine(m predict.FitReport) string {
	status := "converged"
	if !m.Converged {
		status = "did not converge (" + m.Status + ")"
	}
	names := make([]string, 0, len(m.Parameters))
	for name := range m.Parameters {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return paramOrder(names[i]) < paramOrder(names[j]) })
	params := make([]string, len(names))
	for i, name := range names {
		params[i] = fmt.Sprintf("%s=%.4g", name, m.Parameters[name])
	}
	return fmt.Sprintf("%s %s: %s, log-likelihood %.1f, %s customers (%s repeat), %d iterations",
		m.Model, status, strings.Join(params, " "), m.LogLikelihood, Thousands(m.Customers), Thousands(m.Repeaters), m.Iterations)
}

// paramOrder puts the parameters in the papers' order.
func paramOrder(name string) int {
	for i, n := range []string{"r", "alpha", "a", "b", "p", "q", "gamma"} {
		if n == name {
			return i
		}
	}
	return 99
}

// runDerivedJSON is a run of runs' JSON with how it derived its facts.
type runDerivedJSON struct {
	runJSON
	Derived *jobs.DerivedReport `json:"derived,omitempty"`
}

// RunsDerived is Runs with each run's derived-facts report.
func (v tableJSON) RunsDerived(runs []kernel.Run, segments RunSegments, derived RunDerived) error {
	out := make([]runDerivedJSON, len(runs))
	for i, r := range runs {
		out[i] = runDerivedJSON{runJSON: runJSON{ID: r.ID, RuleSet: r.RuleSet, RulesHash: r.RulesHash, Kind: r.Kind, AsOf: r.AsOf, Slot: r.Slot,
			Status: r.Status, StartedAt: r.Started, FinishedAt: r.Finished,
			Customers: r.Customers, Changed: r.Changed, Actions: r.Actions, Errors: r.Errors, Error: r.Error,
			Segments: runSegments(segments[r.ID])}, Derived: derived[r.ID]}
	}
	return writeJSON(v.w, struct {
		FormatVersion int              `json:"format_version"`
		Runs          []runDerivedJSON `json:"runs"`
	}{FormatVersion, out})
}
