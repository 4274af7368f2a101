package views

import (
	"io"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// Table renders the tabular outputs: recent runs (tierflow runs), a
// customer's recorded moves (tierflow history), the action queue
// (tierflow actions list), coverage (tierflow coverage) and effect and
// cost reports (tierflow effects). A command calls one method once.
type Table interface {
	// Runs renders runs, newest first.
	Runs(runs []kernel.Run) error
	// History renders the recorded moves of one customer.
	History(customer string, moves []kernel.HistoryEntry) error
	// Actions renders rows of the action queue.
	Actions(rows []kernel.QueuedAction) error
	// Coverage renders each rule set's coverage after a run.
	Coverage(runs []CoverageRun) error
	// Effects renders effect and cost reports, one per rule set.
	Effects(reports []*jobs.EffectsReport) error
}

// NewTable returns the Table view for format: text, json, markdown or
// csv.
func NewTable(format string, w io.Writer) (Table, error) {
	f, err := parseFormat(format, tableFormats)
	if err != nil {
		return nil, err
	}
	switch f {
	case JSON:
		return tableJSON{w}, nil
	case Markdown:
		return tableMarkdown{w}, nil
	case CSV:
		return tableCSV{w}, nil
	}
	return tableText{w}, nil
}
