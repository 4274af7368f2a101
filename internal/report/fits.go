package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
)

// RuleSetFits are the model fits of one rule set's runs (jobs.RunFits).
type RuleSetFits struct {
	RuleSet string
	Runs    []jobs.RunFit
}

// fitRow is one row of the page's table of fits, as text.
type fitRow struct {
	RuleSet, AsOf, Model, Converged, Parameters, LogLikelihood, Customers string
	Run, Iterations                                                       int64
}

// fitRows are the rows of the table of fits, rule set by rule set.
func fitRows(fits []RuleSetFits) []fitRow {
	var out []fitRow
	for _, f := range fits {
		for _, r := range f.Runs {
			conv := "yes"
			if !r.Converged {
				conv = "no (" + r.Status + ")"
			}
			out = append(out, fitRow{RuleSet: f.RuleSet, Run: r.RunID, AsOf: r.AsOf.UTC().Format(time.DateOnly), Model: r.Model,
				Converged: conv, Parameters: parameters(r.Parameters), LogLikelihood: fmt.Sprintf("%.1f", r.LogLikelihood),
				Customers: views.Thousands(r.Customers), Iterations: int64(r.Iterations)})
		}
	}
	return out
}

// parameters writes a fit's parameters in the paper's order: "r = 0.2426,
// alpha = 4.414, a = 0.7929, b = 2.426".
func parameters(p map[string]float64) string {
	order := map[string]int{"r": 0, "alpha": 1, "a": 2, "b": 3, "p": 4, "q": 5, "gamma": 6}
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, iok := order[names[i]]
		oj, jok := order[names[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s = %.4g", name, p[name])
	}
	return strings.Join(parts, ", ")
}
