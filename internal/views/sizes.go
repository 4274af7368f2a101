package views

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// SizesTable is one segmentation's class sizes after each succeeded
// apply of a rule set in a period, as tierflow sizes shows them: a row
// per apply, a column per segment.
type SizesTable struct {
	RuleSet      string
	RuleSetLabel string
	From, Until  time.Time
	// Segmentation is the segmentation and its segments, in rank order:
	// the table's columns.
	Segmentation jobs.ReportSegmentation
	// Rows are the applies, by as-of.
	Rows []SizesRow
}

// SizesRow is the class sizes after one apply.
type SizesRow struct {
	RunID int64
	AsOf  time.Time
	// Customers holds each segment's size, in Segmentation's order.
	Customers []int
}

// Total is the row's customers in all segments.
func (r SizesRow) Total() int {
	n := 0
	for _, c := range r.Customers {
		n += c
	}
	return n
}

// sizesPeriod says what a table covers: "from 2024-01-01 to 2024-07-01".
func sizesPeriod(t SizesTable) string {
	return fmt.Sprintf("from %s to %s", whenText(t.From), whenText(t.Until))
}

// whenText shows a time in UTC to the minute, "2024-07-01 02:00", or as
// a date at midnight.
func whenText(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04")
}

// sizesHeader is a segment's column header: its label and name.
func sizesHeader(seg jobs.ReportSegment) string { return labelled(seg.Name, seg.Label) }

func (v tableText) Sizes(tables []SizesTable) error {
	if len(tables) == 0 {
		_, err := fmt.Fprintln(v.w, "no class sizes")
		return err
	}
	return flush(v.w, func(b *bytes.Buffer) {
		for i, t := range tables {
			if i > 0 {
				b.WriteString("\n")
			}
			name, seg := labelled(t.RuleSet, t.RuleSetLabel), labelled(t.Segmentation.Name, t.Segmentation.Label)
			if len(t.Rows) == 0 {
				fmt.Fprintf(b, "rule set %s: no succeeded apply %s, so no class sizes of %s (tierflow apply records them)\n", name, sizesPeriod(t), seg)
				continue
			}
			fmt.Fprintf(b, "Class sizes of %s in rule set %s, after each succeeded apply %s\n", seg, name, sizesPeriod(t))
			header := []string{"run", "as of"}
			for _, s := range t.Segmentation.Segments {
				header = append(header, sizesHeader(s))
			}
			header = append(header, "total")
			c := newColumns(header, append([]string{"run"}, header[2:]...)...)
			for _, r := range t.Rows {
				cells := []string{strconv.FormatInt(r.RunID, 10), whenText(r.AsOf)}
				for _, n := range r.Customers {
					cells = append(cells, Thousands(n))
				}
				c.add(append(cells, Thousands(r.Total()))...)
			}
			c.write(b, "  ")
		}
	})
}

func (v tableMarkdown) Sizes(tables []SizesTable) error {
	if len(tables) == 0 {
		_, err := io.WriteString(v.w, "_No class sizes._\n")
		return err
	}
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "### Class sizes: %s, %s\n\n", mdName(t.RuleSet, t.RuleSetLabel), mdName(t.Segmentation.Name, t.Segmentation.Label))
		if len(t.Rows) == 0 {
			fmt.Fprintf(&b, "_No succeeded apply %s._\n\n", sizesPeriod(t))
			continue
		}
		fmt.Fprintf(&b, "After each succeeded apply %s.\n\n", sizesPeriod(t))
		header, align := "| run | as of |", "|--:|---|"
		for _, s := range t.Segmentation.Segments {
			header += " " + mdName(s.Name, s.Label) + " |"
			align += "--:|"
		}
		header, align = header+" total |", align+"--:|"
		var rows []string
		for _, r := range t.Rows {
			row := fmt.Sprintf("| %d | %s |", r.RunID, whenText(r.AsOf))
			for _, n := range r.Customers {
				row += " " + Thousands(n) + " |"
			}
			rows = append(rows, row+" "+Thousands(r.Total())+" |")
		}
		b.WriteString(fullTable(header, align, rows)) // --since bounds the rows
	}
	_, err := io.WriteString(v.w, b.String())
	return err
}

// sizesTableJSON is one table in sizes' JSON document (docs/output.md).
type sizesTableJSON struct {
	RuleSet           string               `json:"ruleset"`
	RuleSetLabel      string               `json:"ruleset_label,omitempty"`
	From              time.Time            `json:"from"`
	Until             time.Time            `json:"until"`
	Segmentation      string               `json:"segmentation"`
	SegmentationLabel string               `json:"segmentation_label,omitempty"`
	Segments          []jobs.ReportSegment `json:"segments"`
	Runs              []sizesRowJSON       `json:"runs"`
}

// sizesRowJSON is one apply's sizes, one per segment, in segments' order.
type sizesRowJSON struct {
	RunID     int64     `json:"run_id"`
	AsOf      time.Time `json:"as_of"`
	Customers []int     `json:"customers"`
	Total     int       `json:"total"`
}

func (v tableJSON) Sizes(tables []SizesTable) error {
	out := make([]sizesTableJSON, len(tables))
	for i, t := range tables {
		out[i] = sizesTableJSON{RuleSet: t.RuleSet, RuleSetLabel: t.RuleSetLabel, From: t.From.UTC(), Until: t.Until.UTC(),
			Segmentation: t.Segmentation.Name, SegmentationLabel: t.Segmentation.Label,
			Segments: orNoneOf(t.Segmentation.Segments), Runs: make([]sizesRowJSON, len(t.Rows))}
		for k, r := range t.Rows {
			out[i].Runs[k] = sizesRowJSON{RunID: r.RunID, AsOf: r.AsOf.UTC(), Customers: orNoneOf(r.Customers), Total: r.Total()}
		}
	}
	return writeJSON(v.w, struct {
		FormatVersion int              `json:"format_version"`
		Tables        []sizesTableJSON `json:"tables"`
	}{FormatVersion, out})
}

// sizesCSVHeader names sizes' CSV columns: one row per apply and
// segment.
var sizesCSVHeader = []string{"ruleset", "segmentation", "run_id", "as_of", "segment", "label", "rank", "customers"}

func (v tableCSV) Sizes(tables []SizesTable) error {
	rows := [][]string{sizesCSVHeader}
	for _, t := range tables {
		for _, r := range t.Rows {
			for k, s := range t.Segmentation.Segments {
				rows = append(rows, []string{t.RuleSet, t.Segmentation.Name, itoa(r.RunID), csvTime(r.AsOf), s.Name, s.Label,
					strconv.Itoa(s.Rank), strconv.Itoa(r.Customers[k])})
			}
		}
	}
	return writeCSV(v.w, rows)
}
