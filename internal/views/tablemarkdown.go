package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// tableMarkdown writes a heading and one markdown table per call.
type tableMarkdown struct{ w io.Writer }

func (v tableMarkdown) Runs(runs []kernel.Run, segments RunSegments) error {
	if len(runs) == 0 {
		_, err := io.WriteString(v.w, "_No runs yet._\n")
		return err
	}
	header, align := "| run | ruleset | kind | slot / as-of | status | took | customers | changed | actions | errors | error |",
		"|--:|---|---|---|---|--:|--:|--:|--:|--:|---|"
	if segments != nil {
		header, align = header+" segments |", align+"---|"
	}
	var rows []string
	for _, r := range runs {
		row := fmt.Sprintf("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
			r.ID, md(r.RuleSet), md(r.KindText()), runWhen(r).Format("2006-01-02 15:04"), md(r.Status), runTook(r),
			Thousands(int(r.Customers)), Thousands(int(r.Changed)), Thousands(int(r.Actions)), Thousands(int(r.Errors)), md(deref(r.Error)))
		if segments != nil {
			var lines []string
			for _, sr := range segments[r.ID] {
				lines = append(lines, "`"+md(sr.Name)+"`: "+md(segmentSizes(sr, ", ")))
			}
			row += " " + strings.Join(lines, "<br>") + " |"
		}
		rows = append(rows, row)
	}
	_, err := io.WriteString(v.w, "### Runs\n\n"+fullTable(header, align, rows))
	return err
}

func (v tableMarkdown) History(customer string, moves []kernel.HistoryEntry) error {
	if len(moves) == 0 {
		_, err := fmt.Fprintf(v.w, "_No recorded moves for customer %s._\n", md(customer))
		return err
	}
	var rows []string
	for _, e := range moves {
		rows = append(rows, fmt.Sprintf("| %s | `%s.%s` | %s | %s | %s | %s | %d |", formatValue(e.AsOf), md(e.RuleSet), md(e.Segmentation),
			md(orNone(deref(e.From))), md(orNone(e.To)), md(reasonText(e.Reason)), md(orNone(e.Matched)), e.RunID))
	}
	_, err := io.WriteString(v.w, fmt.Sprintf("### Moves of customer %s\n\n", md(customer))+fullTable(
		"| as of | segmentation | from | to | reason | matched | run |", "|---|---|---|---|---|---|--:|", rows))
	return err
}

func (v tableMarkdown) Actions(rows []kernel.QueuedAction) error {
	if len(rows) == 0 {
		_, err := io.WriteString(v.w, "_No actions match._\n")
		return err
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("| %d | %s | %s | %s | %d | %s | %s | %s |", r.ID, md(r.RuleSet), md(r.Action), md(r.Customer),
			r.Priority, md(r.Status), formatValue(r.DueAt.UTC()), mdCode(string(r.Payload))))
	}
	_, err := io.WriteString(v.w, "### Action queue\n\n"+fullTable(
		"| id | ruleset | action | customer | priority | status | due | payload |", "|--:|---|---|---|--:|---|---|---|", out))
	return err
}
