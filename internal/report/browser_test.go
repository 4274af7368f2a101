package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/report"
	"github.com/tierflow/tierflow/internal/report/browsertest"
	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
)

// writePage renders reps to a file in dir and returns its path and size.
func writePage(tb testing.TB, dir string, reps ...*jobs.ClassReport) (string, int) {
	tb.Helper()
	var buf bytes.Buffer
	if err := report.Write(&buf, report.Page{Reports: reps, Generated: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Version: "test"}); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, buf.Len()
}

// expectedFigures are the figures the charts of rep should show, in the
// keys of browsertest.Figures.
func expectedFigures(rep *jobs.ClassReport) map[string]float64 {
	f := map[string]float64{}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, p := range rep.Sizes {
		f["sizes/"+p.Segmentation+"/"+p.Segment+"/"+id(p.RunID)] = float64(p.Customers)
	}
	for _, c := range rep.Moves {
		f["moves/"+c.Scope+"/"+c.Segmentation+"/"+c.From+">"+c.To] = float64(c.Count)
		if c.Scope == "period" {
			f["sankey/period/"+c.Segmentation+"/"+c.From+">"+c.To] = float64(c.Count)
		}
	}
	if rep.Churn != nil {
		for _, r := range rep.Churn.Rates {
			if r.AtStart > 0 {
				f["churn/"+r.Segmentation+"/"+r.Segment+"/"+r.PeriodStart.Format(time.DateOnly)+" – "+r.PeriodEnd.Format(time.DateOnly)] = r.Rate
			}
		}
	}
	for _, a := range rep.Actions {
		f["actions/"+a.Segmentation+"/"+a.Action+"/"+a.Segment+"/"+a.Status] += float64(a.Count)
		if a.Segmentation == rep.Segmentations[0].Name {
			f["by-action/"+a.Action+"/"+a.Status] += float64(a.Count)
		}
	}
	var last int64
	for _, c := range rep.Coverage {
		f["coverage/"+c.Segmentation+"."+c.Segment+"/"+id(c.RunID)] = c.Share
		last = c.RunID
	}
	for _, c := range rep.Coverage {
		if c.RunID == last {
			class := "coverage-latest/" + c.Segmentation + "." + c.Segment + "/"
			f[class+"covered"], f[class+"pending"], f[class+"overdue"] = float64(c.Covered), float64(c.Pending), float64(c.Overdue)
		}
	}
	if ef := rep.Effects; ef != nil && len(ef.Effects) > 0 {
		h := slices.Max(ef.Horizons)
		for _, e := range ef.Effects {
			if e.Horizon == h && e.Treated+e.HeldOut > 0 {
				k := "effects/" + e.Action + "/" + e.Segmentation + "." + e.Segment + "/"
				f[k+"treated"], f[k+"held_out"] = e.Churned.Treated, e.Churned.HeldOut
			}
		}
	}
	for _, r := range rep.Runs {
		f["durations/"+id(r.ID)+"/"+string(r.Status)] = r.Seconds
		for rule, n := range r.ErrorsByRule {
			f["errors/"+id(r.ID)+"/"+rule] = float64(n)
		}
	}
	return f
}

// figurePrefixes are the charts every full report has.
var figurePrefixes = []string{"sizes/", "moves/latest/", "moves/period/", "sankey/period/", "churn/", "actions/", "by-action/",
	"coverage/", "coverage-latest/", "effects/", "durations/", "errors/"}

// TestSyntheticReportInBrowser draws a synthetic report of 120 nights and
// checks that every chart shows the report's figures, with no console
// error and no request for anything outside the file.
func TestSyntheticReportInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	rep := synthReport(t, 120, 20000)
	dir := browsertest.ArtifactDir(t)
	path, size := writePage(t, dir, rep)
	ms := b.Open(path)
	t.Logf("%s: %d bytes, charts ready %.0f ms after navigation", path, size, ms)
	got, err := browsertest.Figures(browsertest.Charts(b))
	if err != nil {
		t.Fatal(err)
	}
	want := expectedFigures(rep)
	for _, prefix := range figurePrefixes {
		if diff := browsertest.Diff(got, want, prefix, 1e-9); len(diff) > 0 {
			t.Errorf("%d figures differ, such as:\n%s", len(diff), strings.Join(diff[:min(len(diff), 10)], "\n"))
		}
	}
	// The flow diagrams' buttons: the latest run, without customers
	// entering or leaving.
	browsertest.Eval[bool](b, `(function () {
	  document.querySelectorAll('.toggle button[data-scope="latest"]').forEach(function (e) { e.click(); });
	  document.querySelectorAll('.toggle input[type=checkbox]').forEach(function (e) { e.click(); });
	  return true;
	})()`)
	if got, err = browsertest.Figures(browsertest.Charts(b)); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Moves {
		if c.Scope == "latest" && c.Direction != "in" && c.Direction != "out" {
			want["sankey/latest/"+c.Segmentation+"/"+c.From+">"+c.To] = float64(c.Count)
		}
	}
	if diff := browsertest.Diff(got, want, "sankey/latest/", 0); len(diff) > 0 {
		t.Errorf("the flow of the latest run, without entries, differs:\n%s", strings.Join(diff[:min(len(diff), 10)], "\n"))
	}
	if _, ok := got["sankey/period/value_tier/>small"]; ok {
		t.Error("a flow diagram still shows the period")
	}
	b.Screenshot(filepath.Join(dir, "synthetic.png"), 0)
	t.Logf("screenshot: %s", filepath.Join(dir, "synthetic.png"))
	if issues := b.Issues(); len(issues) > 0 {
		t.Fatalf("the page had problems:\n%q", issues)
	}
}

// BenchmarkBrowserRender draws a year of nightly runs of the retail
// example (365 runs, synthetic counts) in Chromium and reports the time
// from the start of the navigation to the charts-ready mark (ms-ready:
// the mean; ms-first: the first load, with no code cache) and the size of
// the HTML file. Run it with
//
//	go test ./internal/report -run '^$' -bench BrowserRender -benchtime 5x
func BenchmarkBrowserRender(b *testing.B) {
	br := browsertest.Start(b)
	rep := synthReport(b, 365, 200000)
	path, size := writePage(b, browsertest.ArtifactDir(b), rep)
	var total, first float64
	for i := 0; b.Loop(); i++ {
		ms := br.Open(path)
		if i == 0 {
			first = ms
		}
		total += ms
	}
	if issues := br.Issues(); len(issues) > 0 {
		b.Fatalf("the page had problems:\n%q", issues)
	}
	b.ReportMetric(total/float64(b.N), "ms-ready")
	b.ReportMetric(first, "ms-first")
	b.ReportMetric(float64(size), "bytes-html")
	b.ReportMetric(0, "ns/op")
}

// TestCSVInBrowser: every table the page makes as CSV is, byte for byte,
// what tierflow report --format csv --table NAME writes, quoting, times in
// other zones and fractions included.
func TestCSVInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	rep := synthReport(t, 40, 5000)
	shanghai := time.FixedZone("CST", 8*3600)
	rep.Runs[3].AsOf = rep.Runs[3].AsOf.In(shanghai).Add(123456789 * time.Nanosecond)
	rep.Runs[4].Error = "read facts: \"customers\", line 7:\nbad value"
	rep.Runs[5].GuardReasons = []string{" leading space", "two, with a comma"}
	rep.Coverage[0].Label = `VIP "gold", 金卡`
	rep.Churn.Rates[0].Rate = 1e-7
	rep.Effects.Costs = []jobs.ClassCost{{Action: "winback_call", Segmentation: "value_tier", Segment: "vip", Queued: 12, UnitCost: 15, Cost: 180}}
	path, _ := writePage(t, t.TempDir(), rep)
	b.Open(path)
	for _, table := range views.ClassReportCSVTables {
		var want bytes.Buffer
		if err := views.ClassReportCSV(&want, rep, table); err != nil {
			t.Fatal(err)
		}
		got := browsertest.Eval[string](b, `window.tierflow.csv("retail", "`+table+`")`)
		if got != want.String() {
			t.Errorf("table %s: the page's CSV differs from views.ClassReportCSV:\n%s", table, firstDiff(got, want.String()))
		}
	}
	if issues := b.Issues(); len(issues) > 0 {
		t.Fatalf("the page had problems:\n%q", issues)
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(got, want string) string {
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
			return "line " + strconv.Itoa(i+1) + ":\n  page:  " + gl + "\n  views: " + wl
		}
	}
	return "(equal lines, different lengths)"
}
