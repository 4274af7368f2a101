package views

import (
	"bytes"
	"fmt"
	"io"

	"github.com/tierflow/tierflow/jobs"
)

// Plan renders what plan and apply print: one report per rule set, the
// run an apply wrote, and rule-change previews (plan --baseline).
type Plan interface {
	// Report renders one rule set's plan or apply report.
	Report(r *jobs.PlanReport) error
	// Applied says that an apply of ruleSet was written as run runID.
	Applied(ruleSet string, runID int64) error
	// Diff renders one rule set's rule-change preview.
	Diff(r *jobs.DiffReport) error
	// Close ends the output. JSON is written here, as one document: the
	// array of previews if there are any, else the array of reports
	// (docs/plan-json.md).
	Close() error
}

// NewPlan returns the Plan view for format: text, json or markdown. Text
// is coloured when w asks for it (WithStyle); the other formats never are.
func NewPlan(format string, w io.Writer) (Plan, error) {
	w, st := styleOf(w)
	f, err := parseFormat(format, reportFormats)
	if err != nil {
		return nil, err
	}
	switch f {
	case JSON:
		return &planJSON{w: w, reports: []*jobs.PlanReport{}}, nil
	case Markdown:
		return &planMarkdown{w: w}, nil
	}
	return &planText{w: w, st: st}, nil
}

// planText writes each report as it comes, for a terminal.
type planText struct {
	w  io.Writer
	st Style
}

func (v *planText) Report(r *jobs.PlanReport) error {
	return flush(v.w, func(b *bytes.Buffer) { writePlanText(b, r, v.st) })
}

func (v *planText) Applied(ruleSet string, runID int64) error {
	_, err := fmt.Fprintf(v.w, "applied %s as run %d\n\n", ruleSet, runID)
	return err
}

func (v *planText) Diff(r *jobs.DiffReport) error {
	return flush(v.w, func(b *bytes.Buffer) { writeDiffText(b, r, v.st) })
}

func (v *planText) Close() error { return nil }

// planMarkdown writes each report as markdown tables.
type planMarkdown struct{ w io.Writer }

func (v *planMarkdown) Report(r *jobs.PlanReport) error {
	_, err := io.WriteString(v.w, markdownPlan(r, MaxMarkdownBytes))
	return err
}

func (v *planMarkdown) Applied(ruleSet string, runID int64) error {
	_, err := fmt.Fprintf(v.w, "Applied `%s` as run %d.\n\n", md(ruleSet), runID)
	return err
}

func (v *planMarkdown) Diff(r *jobs.DiffReport) error {
	_, err := io.WriteString(v.w, markdownDiff(r, MaxMarkdownBytes))
	return err
}

func (v *planMarkdown) Close() error { return nil }

// planJSON holds the reports back and writes them on Close as one array,
// the shape plan --json has always had.
type planJSON struct {
	w       io.Writer
	reports []*jobs.PlanReport
	diffs   []*jobs.DiffReport
}

func (v *planJSON) Report(r *jobs.PlanReport) error {
	v.reports = append(v.reports, r)
	return nil
}

// Applied adds nothing: the report's status says the apply succeeded.
func (v *planJSON) Applied(string, int64) error { return nil }

func (v *planJSON) Diff(r *jobs.DiffReport) error {
	v.diffs = append(v.diffs, r)
	return nil
}

func (v *planJSON) Close() error {
	if len(v.diffs) > 0 {
		return writeJSON(v.w, v.diffs)
	}
	return writeJSON(v.w, v.reports)
}

// flush renders into a buffer with render, then writes it in one call, so
// that a write error is returned once.
func flush(w io.Writer, render func(*bytes.Buffer)) error {
	var b bytes.Buffer
	render(&b)
	_, err := w.Write(b.Bytes())
	return err
}
