package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/predict"
	"github.com/tierflow/tierflow/jobs"
)

// A page with model fits shows them in a table, in the papers' order of
// parameters; one without shows no such section.
func TestPageFits(t *testing.T) {
	t.Parallel()
	fit := jobs.RunFit{RunID: 7, AsOf: time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC), FitReport: predict.FitReport{
		Model: "bg/nbd", Parameters: map[string]float64{"b": 2.4259, "a": 0.79292, "alpha": 4.4136, "r": 0.24259},
		LogLikelihood: -9582.43, Customers: 2357, Iterations: 24, Converged: true}}
	failed := fit
	failed.RunID, failed.Converged, failed.Status = 8, false, "Failure"
	var with, without bytes.Buffer
	if err := Write(&with, Page{Fits: []RuleSetFits{{RuleSet: "cd", Runs: []jobs.RunFit{fit, failed}}}}); err != nil {
		t.Fatal(err)
	}
	page := with.String()
	for _, want := range []string{
		`<tr><td>cd</td><td>7</td><td>1997-09-30</td><td>bg/nbd</td><td>yes</td><td>r = 0.2426, alpha = 4.414, a = 0.7929, b = 2.426</td><td>-9582.4</td><td>2,357</td><td>24</td></tr>`,
		`<td>8</td><td>1997-09-30</td><td>bg/nbd</td><td>no (Failure)</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if err := Write(&without, Page{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(without.String(), "model-fits") {
		t.Error("a page without fits has their section")
	}
}
