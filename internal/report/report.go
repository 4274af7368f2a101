package report

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
)

// EChartsVersion is the version of Apache ECharts embedded in every page
// (echarts/echarts.min.js, from the npm package echarts).
const EChartsVersion = "6.1.0"

// FormatVersion is the version of the page's embedded data (the element
// with id tierflow-data): an object with format_version, generated,
// tierflow (the version that wrote it), reports, the class reports in
// jobs' JSON (jobs.ClassReport, docs/report.md), and csv_columns, the
// header of each CSV table (views.ClassReportCSVColumns).
const FormatVersion = 1

// DataElementID is the id of the <script type="application/json">
// element that holds the page's data.
const DataElementID = "tierflow-data"

//go:embed echarts/echarts.min.js
var echartsJS string

//go:embed js/*.js
var scriptFiles embed.FS

// scriptOrder is the order the page's own scripts run in: helpers first,
// then what draws each section, then main, which draws the page.
var scriptOrder = []string{"util.js", "csv.js", "charts.js", "sections.js", "followups.js", "main.js"}

//go:embed page.css
var pageCSS string

//go:embed page.html index.html
var templateFiles embed.FS

var templates = template.Must(template.ParseFS(templateFiles, "page.html", "index.html"))

// script is the page's own JavaScript, in scriptOrder.
var script = func() string {
	var b strings.Builder
	// One function scope for every file: they share their helpers, and
	// only window.tierflow (main.js) is global.
	b.WriteString("(function () {\n'use strict';\n")
	for _, name := range scriptOrder {
		src, err := scriptFiles.ReadFile("js/" + name)
		if err != nil {
			panic(err)
		}
		b.WriteString("// " + name + "\n")
		b.Write(src)
		b.WriteString("\n")
	}
	b.WriteString("})();\n")
	return b.String()
}()

// scriptSources are the hashes of the page's two scripts (ECharts and
// its own), in the form a Content-Security-Policy's script-src takes.
var scriptSources = func() string {
	var parts []string
	for _, s := range []string{echartsJS, script} {
		sum := sha256.Sum256([]byte(s))
		parts = append(parts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return strings.Join(parts, " ")
}()

// ScriptSources is the script-src of a Content-Security-Policy that lets
// a report run its own scripts and no other (tierflow serve sends it).
// The data element is JSON, which browsers do not run.
func ScriptSources() string { return scriptSources }

// Page is one HTML report.
type Page struct {
	// Reports are the class reports it shows, one section each.
	Reports []*jobs.ClassReport
	// Generated is when the reports were made; Version is tierflow's.
	Generated time.Time
	Version   string
	// Index, when set, is the address of the list of every rule set
	// (tierflow serve's /report), linked from the top of the page.
	Index string
	// Fits are the fits of the models of the rule sets' predicted facts
	// at each run of the reports' periods, shown in a table at the end
	// (fits.go); none for rule sets without predicted facts.
	Fits []RuleSetFits
}

// pageData is the JSON the page carries.
type pageData struct {
	FormatVersion int                 `json:"format_version"`
	Generated     time.Time           `json:"generated"`
	Tierflow      string              `json:"tierflow"`
	Reports       []*jobs.ClassReport `json:"reports"`
	// CSVColumns are the header of each table the page downloads as CSV:
	// those of tierflow report --format csv.
	CSVColumns map[string][]string `json:"csv_columns"`
}

// pageView is what page.html is executed with.
type pageView struct {
	Title, Index string
	// Data is the page's data as JSON, with <, > and & escaped
	// (\u003c...), so that no string in it can end the script element.
	Data, ECharts, Script template.JS
	CSS                   template.CSS
	Fits                  []fitRow
}

// Write writes p as one self-contained HTML page to w.
func Write(w io.Writer, p Page) error {
	reports := p.Reports
	if reports == nil {
		reports = []*jobs.ClassReport{}
	}
	data, err := json.Marshal(pageData{FormatVersion: FormatVersion, Generated: p.Generated.UTC(), Tierflow: p.Version, Reports: reports,
		CSVColumns: views.ClassReportCSVColumns})
	if err != nil {
		return fmt.Errorf("report data: %w", err)
	}
	v := pageView{Title: title(reports), Index: p.Index, Data: template.JS(data), //nolint:gosec // JSON, HTML-escaped by json.Marshal
		ECharts: template.JS(echartsJS), Script: template.JS(script), CSS: template.CSS(pageCSS), Fits: fitRows(p.Fits)} //nolint:gosec // embedded files
	if err := templates.ExecuteTemplate(w, "page.html", v); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// title names the page after its rule sets.
func title(reports []*jobs.ClassReport) string {
	names := make([]string, len(reports))
	for i, r := range reports {
		names[i] = r.RuleSet
		if r.Label != "" && r.Label != r.RuleSet {
			names[i] = r.Label + " (" + r.RuleSet + ")"
		}
	}
	if len(names) == 0 {
		return "tierflow class report"
	}
	return "Class report: " + strings.Join(names, ", ")
}
