package views

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// A class report (jobs.ClassReport) is the data of tierflow report: its
// JSON is jobs' documented shape, and each of its lists is one CSV table,
// whose columns ClassReportCSVColumns names so that a page that builds
// the same CSV in the browser agrees with this one.

// ClassReportCSVTables are the tables of a class report's CSV, in the
// report's order.
var ClassReportCSVTables = []string{"runs", "sizes", "moves", "churn", "actions", "coverage", "effects"}

// ClassReportCSVColumns names each table's columns, in order
// (docs/output.md). Times are RFC 3339 in UTC, shares and rates
// fractions from 0 to 1, no segment an empty cell; lists are joined with
// "; ". effects has the columns of tierflow effects --format csv.
var ClassReportCSVColumns = map[string][]string{
	"runs": {"id", "kind", "as_of", "status", "started", "seconds", "customers", "changed", "actions", "errors",
		"errors_by_rule", "guard_reasons", "error"},
	"sizes":    {"run_id", "as_of", "segmentation", "segment", "customers"},
	"moves":    {"scope", "run_id", "segmentation", "from", "to", "count", "direction"},
	"churn":    {"period_start", "period_end", "segmentation", "segment", "at_start", "churned", "rate", "applies", "uncounted"},
	"actions":  {"action", "segmentation", "segment", "status", "count"},
	"coverage": {"run_id", "as_of", "segmentation", "segment", "label", "every_days", "by", "counts", "due", "covered", "pending", "overdue", "share"},
	"effects":  effectsCSVHeader,
}

// ClassReportJSON writes rep as one JSON document: jobs.ClassReport, its
// lists [] when empty (docs/report.md).
func ClassReportJSON(w io.Writer, rep *jobs.ClassReport) error {
	c := *rep
	c.Segmentations = orNoneOf(c.Segmentations)
	for i, s := range c.Segmentations {
		if s.Segments == nil {
			c.Segmentations[i].Segments = []jobs.ReportSegment{}
		}
	}
	c.Runs, c.Sizes, c.Moves = orNoneOf(c.Runs), orNoneOf(c.Sizes), orNoneOf(c.Moves)
	c.Actions, c.Coverage = orNoneOf(c.Actions), orNoneOf(c.Coverage)
	if c.Churn != nil && c.Churn.Rates == nil {
		ch := *c.Churn
		ch.Rates = []jobs.ChurnRate{}
		c.Churn = &ch
	}
	if c.Effects != nil {
		e := *c.Effects
		e.Effects, e.Costs = orNoneOf(e.Effects), orNoneOf(e.Costs)
		c.Effects = &e
	}
	return writeJSON(w, &c)
}

// orNoneOf is s, or an empty slice for nil: JSON's [] rather than null.
func orNoneOf[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ClassReportCSV writes one table of rep as CSV: a header row of
// ClassReportCSVColumns[table], then a row per item of the report's list,
// in its order.
func ClassReportCSV(w io.Writer, rep *jobs.ClassReport, table string) error {
	rows, err := classReportRows(rep, table)
	if err != nil {
		return err
	}
	return writeCSV(w, append([][]string{ClassReportCSVColumns[table]}, rows...))
}

// classReportRows are the rows of one table.
func classReportRows(rep *jobs.ClassReport, table string) ([][]string, error) {
	var rows [][]string
	switch table {
	case "runs":
		for _, r := range rep.Runs {
			rows = append(rows, []string{itoa(r.ID), r.Kind, csvTime(r.AsOf), string(r.Status), csvTime(r.Started), csvFloat(r.Seconds),
				itoa(r.Customers), itoa(r.Changed), itoa(r.Actions), itoa(r.Errors), byRuleText(r.ErrorsByRule),
				strings.Join(r.GuardReasons, "; "), r.Error})
		}
	case "sizes":
		for _, p := range rep.Sizes {
			rows = append(rows, []string{itoa(p.RunID), csvTime(p.AsOf), p.Segmentation, p.Segment, strconv.Itoa(p.Customers)})
		}
	case "moves":
		for _, m := range rep.Moves {
			rows = append(rows, []string{m.Scope, optionalID(m.RunID), m.Segmentation, m.From, m.To, strconv.Itoa(m.Count), m.Direction})
		}
	case "churn":
		rows = churnRows(rep.Churn)
	case "actions":
		for _, a := range rep.Actions {
			rows = append(rows, []string{a.Action, a.Segmentation, a.Segment, a.Status, itoa(a.Count)})
		}
	case "coverage":
		for _, p := range rep.Coverage {
			c := p.CoverageReport
			rows = append(rows, []string{itoa(p.RunID), csvTime(p.AsOf), c.Segmentation, c.Segment, c.Label, strconv.Itoa(c.EveryDays),
				strings.Join(c.By, "; "), strings.Join(c.Counts, "; "), strconv.Itoa(c.Due), strconv.Itoa(c.Covered),
				strconv.Itoa(c.Pending), strconv.Itoa(c.Overdue), csvFloat(c.Share)})
		}
	case "effects":
		if rep.Effects != nil {
			rows = effectsRows(rep.Effects)
		}
	default:
		return nil, fmt.Errorf("no table %q in a class report: use %s", table, strings.Join(ClassReportCSVTables, ", "))
	}
	return rows, nil
}

func churnRows(c *jobs.ChurnReport) [][]string {
	if c == nil {
		return nil
	}
	var rows [][]string
	for _, r := range c.Rates {
		rows = append(rows, []string{csvTime(r.PeriodStart), csvTime(r.PeriodEnd), r.Segmentation, r.Segment, strconv.Itoa(r.AtStart),
			strconv.Itoa(r.Churned), csvFloat(r.Rate), strconv.Itoa(r.Applies), strconv.Itoa(r.Uncounted)})
	}
	return rows
}

// byRuleText shows rule errors by rule: "tier.vip.when=2; ..." in rule
// order.
func byRuleText(byRule map[string]int) string {
	parts := make([]string, 0, len(byRule))
	for _, k := range sortedKeys(byRule) {
		parts = append(parts, k+"="+strconv.Itoa(byRule[k]))
	}
	return strings.Join(parts, "; ")
}

// optionalID is an id, or an empty cell for none (0).
func optionalID(id int64) string {
	if id == 0 {
		return ""
	}
	return itoa(id)
}
