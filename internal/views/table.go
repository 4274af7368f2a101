package views

import (
	"io"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// Table renders the tabular outputs: recent runs (tierflow runs), a
// customer's recorded moves (tierflow history), the action queue
// (tierflow actions list), coverage (tierflow coverage), effect and
// cost reports (tierflow effects) and class sizes over time (tierflow
// sizes). A command calls one method once.
type Table interface {
	// Runs renders runs, newest first; segments, when not nil, holds the
	// class sizes after each run that has them (tierflow runs
	// --segments), shown under it.
	Runs(runs []kernel.Run, segments RunSegments) error
	// History renders the recorded moves of one customer.
	History(customer string, moves []kernel.HistoryEntry) error
	// Actions renders rows of the action queue.
	Actions(rows []kernel.QueuedAction) error
	// Coverage renders each rule set's coverage after a run.
	Coverage(runs []CoverageRun) error
	// Effects renders effect and cost reports, one per rule set.
	Effects(reports []*jobs.EffectsReport) error
	// Sizes renders class sizes over time, one table per rule set and
	// segmentation.
	Sizes(tables []SizesTable) error
}

// RunSegments are the class sizes after runs, by run id: the
// segmentations of the report each succeeded run stored, of which a
// view shows every segment's size after the run (After), leaving out
// the customers of segments the rules no longer defined then
// ("(removed)", who are in another segment after it).
type RunSegments map[int64][]jobs.SegmentationReport

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
