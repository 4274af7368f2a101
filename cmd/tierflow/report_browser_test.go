package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/report/browsertest"
)

// reportFigurePrefixes are the charts the project's report must draw,
// each compared with the database.
var reportFigurePrefixes = []string{"sizes/", "moves/latest/", "moves/period/", "sankey/period/", "churn/", "actions/", "by-action/",
	"coverage/", "coverage-latest/", "effects/", "durations/", "errors/"}

// TestReportInBrowser writes the report of a project with seven monthly
// runs, opens it in headless Chromium (Debian's chromium; fonts-noto-cjk
// for the Chinese labels) and checks that it draws with no console error
// and no request outside the file; that every chart shows what the
// database holds; and that each table's CSV download is what tierflow
// report --format csv writes. The screenshots go to $TIERFLOW_ARTIFACTS
// (or a temporary directory, logged); with TIERFLOW_UPDATE_SCREENSHOT=1
// the top of the page becomes docs/report.png.
func TestReportInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	p := newReportProject(t)
	dir := browsertest.ArtifactDir(t)
	page := filepath.Join(dir, "report.html")
	since := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	r := p.run(exitOK, "report", "--since", since.Format(time.DateOnly), "--out", page)
	if !strings.Contains(r.stdout, "wrote the class report of retail to "+page) {
		t.Fatalf("report says:\n%s", r)
	}
	ms := b.Open(page)
	t.Logf("%s: charts ready %.0f ms after navigation", page, ms)

	got, err := browsertest.Figures(browsertest.Charts(b))
	if err != nil {
		t.Fatal(err)
	}
	want := p.storeFigures(since, pagePeriods(t, b))
	for _, prefix := range reportFigurePrefixes {
		if diff := browsertest.Diff(got, want, prefix, 1e-9); len(diff) > 0 {
			t.Errorf("%d figures of the page differ from the database, such as:\n%s", len(diff), strings.Join(diff[:min(len(diff), 12)], "\n"))
		}
	}
	for _, status := range []string{"pending", "done", "failed", "dead", "held_out", "suppressed", "cancelled"} {
		if !hasFigure(got, "by-action/", "/"+status) {
			t.Errorf("the project's queue has no %s action: the test does not cover every status", status)
		}
	}
	if !hasFigure(got, "durations/", "/blocked") || !hasFigure(got, "errors/", "facts.spend_12m") {
		t.Error("the project has no blocked run or no rule error: the test does not cover them")
	}

	for _, table := range reportTables() {
		name, content := b.Download(`button[data-csv="` + table + `"]`)
		want := p.run(exitOK, "report", "--since", since.Format(time.DateOnly), "--format", "csv", "--table", table).stdout
		if name != "retail-"+table+".csv" || string(content) != want {
			t.Errorf("the %s download (%s, %d bytes) is not tierflow report --format csv --table %s (%d bytes):\n%s",
				table, name, len(content), table, len(want), firstLineDiff(string(content), want))
		}
	}

	full := filepath.Join(dir, "report-full.png")
	b.Screenshot(full, 0)
	top := filepath.Join(dir, "report.png")
	b.Screenshot(top, 1900)
	t.Logf("screenshots: %s, %s", full, top)
	if os.Getenv("TIERFLOW_UPDATE_SCREENSHOT") == "1" {
		png, err := os.ReadFile(top)
		if err == nil {
			err = os.WriteFile(filepath.Join("..", "..", "docs", "report.png"), png, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if issues := b.Issues(); len(issues) > 0 {
		t.Fatalf("the page had problems:\n%s", strings.Join(issues, "\n"))
	}
}

// TestServedReportInBrowser opens serve's /report in Chromium: under its
// Content-Security-Policy the page's scripts still run, with no error.
func TestServedReportInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	p := newReportProject(t)
	srv := httptest.NewServer(p.reportServer(""))
	t.Cleanup(srv.Close)
	b.OpenURL(srv.URL + reportPath + "?ruleset=retail&since=2020-01-01")
	if n := browsertest.Eval[int](b, `window.tierflow.charts.length`); n < 10 {
		t.Fatalf("the served report drew %d charts", n)
	}
	if issues := b.Issues(); len(issues) > 0 {
		t.Fatalf("the served page had problems:\n%s", strings.Join(issues, "\n"))
	}
}

// pagePeriods are the churn periods of the page's data.
func pagePeriods(t *testing.T, b *browsertest.Browser) []churnPeriod {
	t.Helper()
	raw := browsertest.Eval[[][2]string](b, `(window.tierflow.reports[0].churn.rates || []).map(function (r) { return [r.period_start, r.period_end]; })`)
	var out []churnPeriod
	seen := map[string]bool{}
	for _, r := range raw {
		if seen[r[0]] {
			continue
		}
		seen[r[0]] = true
		out = append(out, churnPeriod{start: parseStoreTime(t, r[0]), end: parseStoreTime(t, r[1])})
	}
	if len(out) < 3 {
		t.Fatalf("the page has %d churn periods; the project's runs span seven months", len(out))
	}
	return out
}

func hasFigure(f map[string]float64, prefix, suffix string) bool {
	for k, v := range f {
		if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, suffix) && v > 0 {
			return true
		}
	}
	return false
}

// firstLineDiff shows the first line where two texts differ.
func firstLineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "  line " + strconv.Itoa(i+1) + ":\n  download: " + gl + "\n  --format csv: " + wl
		}
	}
	return "  (the same lines)"
}
