package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/report"
	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const reportUsage = `
Usage: tierflow report [flags] [RULESET]

Writes the class report of each configured rule set, or of RULESET, as
one self-contained HTML file: it opens in any browser with no network
(its scripts, styles and chart library are inside it) and travels as an
e-mail attachment. For each rule set, over the runs whose as-of is in
the period:

  - class sizes after every succeeded apply, per segmentation, and the
    latest counts;
  - the move matrix of the latest apply and of the period, as heatmaps
    and a flow diagram, upgrades in green and downgrades in red;
  - the churn rate of each class per period (--period), when the rule
    file declares churn:, with its definition;
  - the period's actions by status (queued, delivered or done, failed,
    dead, suppressed, held out) and by the class of their customer;
  - coverage (覆盖率) after every apply, and treated against held-out
    customers (tierflow effects) for actions with a holdout;
  - the runs: their durations, rule errors and guard refusals.

Every table downloads as CSV from the page. Nothing is evaluated and no
facts are read: the figures are those the state store recorded with
each run and in the queue. tierflow serve shows the same report live at
/report. --format json writes the report's data, and --format csv one
table of it (--table), with the columns of the page's CSV downloads.
docs/report.md describes every chart.

Examples:
  tierflow report --out report.html
  tierflow report retail --since 180d --out retail.html
  tierflow report --since 2024-01-01 --until 2024-06-30 --out h1.html
  tierflow report --format json > report.json
  tierflow report --format csv --table sizes > sizes.csv
`

// reportFormats are report's --format values.
var reportFormats = []string{"html", "json", "csv"}

func runReport(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("report", reportUsage)
	df := addDBFlags(fs)
	out := fs.String("out", "", "write the report to this `file` (default: stdout)")
	since := fs.String("since", "90d", "cover the runs from this long before --until (30d, 26w), or from this `date`")
	until := fs.String("until", "", "cover the runs up to this `date` (2024-06-30, the whole day; or RFC 3339; default: up to now)")
	period := fs.String("period", "30d", "compute churn rates for periods of this `length`, from the start of the period on")
	format := fs.String("format", "html", "output `format`: html, json (the report's data, docs/report.md) or csv (one table)")
	tableName := fs.String("table", "", "with --format csv, the `table` to write: "+strings.Join(reportTables(), ", "))
	args, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	if err := checkReportFormat(*format, *tableName); err != nil {
		return a.errorf("report: %v", err)
	}
	p, err := parseReportPeriod(*since, *until, *period)
	if err != nil {
		return a.errorf("report: %v", err)
	}
	if *df.ruleset, err = rulesetArg(args, *df.ruleset); err != nil {
		return a.errorf("report: %v", err)
	}
	store, sets, closeAll, err := a.openRuleSets(ctx, df)
	if err != nil {
		return a.errorf("report: %v", err)
	}
	defer closeAll() //nolint:errcheck // read only
	if err := oneRuleSet(*format, sets); err != nil {
		return a.errorf("report: %v", err)
	}
	now := a.now()
	reps, err := classReports(ctx, store, sets, p, now)
	if err != nil {
		return a.errorf("report: %s", store.Redact(err.Error()))
	}
	var fits []report.RuleSetFits
	if src, ok := store.(jobs.ReportSource); ok && *format == "html" {
		if fits, err = reportFits(ctx, src, reps); err != nil { // reportfits.go
			return a.errorf("report: %s", store.Redact(err.Error()))
		}
	}
	var buf bytes.Buffer
	if err := writeReport(&buf, reps, fits, *format, *tableName, now); err != nil {
		return a.errorf("report: %v", err)
	}
	if *out == "" || *out == "-" {
		_, err = a.stdout.Write(buf.Bytes())
	} else if err = os.WriteFile(*out, buf.Bytes(), 0o644); err == nil {
		a.say("wrote the class report of %s to %s (%s)", reportNames(reps), *out, byteSize(buf.Len()))
	}
	if err != nil {
		return a.errorf("report: %v", err)
	}
	return exitOK
}

// checkReportFormat refuses a format report does not write, and a table
// without csv or csv without a table.
func checkReportFormat(format, table string) error {
	switch {
	case !slices.Contains(reportFormats, format):
		return fmt.Errorf("--format %q: give html, json or csv", format)
	case format == "csv" && table == "":
		return fmt.Errorf("--format csv writes one table: add --table with one of %s", strings.Join(reportTables(), ", "))
	case format != "csv" && table != "":
		return fmt.Errorf("--table %s: a table is for --format csv (the HTML report has them all, each downloadable as CSV)", table)
	case table != "" && !slices.Contains(reportTables(), table):
		return fmt.Errorf("--table %q: the tables are %s%s", table, strings.Join(reportTables(), ", "), suggestion(table, reportTables()))
	}
	return nil
}

// suggestion is `; did you mean "NAME"?` for a near name, else "".
func suggestion(name string, names []string) string {
	if s := rules.Suggest(name, names); s != "" {
		return "; " + s
	}
	return ""
}

// reportPeriod is the period report's flags (and serve's /report query)
// give: From and Until are resolved per report by options.
type reportPeriod struct {
	periodFlags
	churn time.Duration
}

func parseReportPeriod(since, until, period string) (reportPeriod, error) {
	pf, err := parsePeriodFlags(since, until)
	p := reportPeriod{periodFlags: pf}
	if err != nil {
		return p, err
	}
	if p.churn, err = rules.ParseDuration(period); err != nil || p.churn <= 0 {
		return p, fmt.Errorf("--period %q: give a positive length, such as 30d or 1w", period)
	}
	return p, nil
}

// options are the class report options of rs for p, now being the clock:
// a period without --until has no end (the report goes up to its latest
// run). Effects are compared for rule sets with an action that has a
// holdout.
func (p reportPeriod) options(rs *rules.RuleSet, now time.Time) jobs.ClassReportOptions {
	from, _ := p.span(now)
	return jobs.ClassReportOptions{From: from, Until: p.until, Period: p.churn, Effects: rs.HasHoldout()}
}

// errNoReportSource: the store cannot read class reports.
var errNoReportSource = errors.New("this state store cannot read back runs and queue counts (jobs.ReportSource)")

// classReports builds the class report of each rule set.
func classReports(ctx context.Context, store stateStore, sets []*rules.RuleSet, p reportPeriod, now time.Time) ([]*jobs.ClassReport, error) {
	src, ok := store.(jobs.ReportSource)
	if !ok {
		return nil, errNoReportSource
	}
	var reps []*jobs.ClassReport
	for _, rs := range sets {
		rep, err := jobs.BuildClassReport(ctx, src, rs, p.options(rs, now))
		if err != nil {
			return nil, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// writeReport writes reps in format: an HTML page of them all (with the
// fits of their models), or the JSON document or one CSV table of the one
// rule set's (oneRuleSet).
func writeReport(w io.Writer, reps []*jobs.ClassReport, fits []report.RuleSetFits, format, table string, now time.Time) error {
	if format == "html" {
		return report.Write(w, report.Page{Reports: reps, Generated: now, Version: versionString(), Fits: fits})
	}
	if format == "json" {
		return views.ClassReportJSON(w, reps[0])
	}
	return views.ClassReportCSV(w, reps[0], table)
}

// reportTables are the tables --format csv writes.
func reportTables() []string { return views.ClassReportCSVTables }

// oneRuleSet refuses several rule sets but for html: the JSON document
// and a CSV table are one rule set's.
func oneRuleSet(format string, sets []*rules.RuleSet) error {
	if format == "html" || len(sets) == 1 {
		return nil
	}
	names := make([]string, len(sets))
	for i, rs := range sets {
		names[i] = rs.Name
	}
	return fmt.Errorf("--format %s writes one rule set's report, and the config has %d (%s): name one (tierflow report RULESET --format %s)",
		format, len(sets), strings.Join(names, ", "), format)
}

// reportNames names the rule sets of a report, for messages.
func reportNames(reps []*jobs.ClassReport) string {
	names := make([]string, len(reps))
	for i, r := range reps {
		names[i] = r.RuleSet
	}
	return strings.Join(names, ", ")
}

// byteSize shows a size in bytes for people: 1.2 MB.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
