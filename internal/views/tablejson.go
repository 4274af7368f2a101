package views

import (
	"encoding/json"
	"io"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// runJSON is one run in runs' JSON document (docs/output.md).
type runJSON struct {
	ID         int64      `json:"id"`
	RuleSet    string     `json:"ruleset"`
	RulesHash  string     `json:"rules_hash"`
	Kind       string     `json:"kind"`
	AsOf       time.Time  `json:"as_of"`
	Slot       *time.Time `json:"slot,omitempty"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Customers  int64      `json:"customers"`
	Changed    int64      `json:"changed"`
	Actions    int64      `json:"actions"`
	Errors     int64      `json:"errors"`
	Error      *string    `json:"error,omitempty"`
	// Parent and Shard are a sharded run's (kernel.Run).
	Parent *int64  `json:"parent,omitempty"`
	Shard  *string `json:"shard,omitempty"`
	// Segments are the class sizes after a succeeded run, in the rule
	// file's order; omitted for a run without them.
	Segments []runSegmentJSON `json:"segments,omitempty"`
}

// runSegmentJSON is one class's size after a run.
type runSegmentJSON struct {
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	Customers    int    `json:"customers"`
}

// runSegments lists a run's class sizes, without the customers of
// segments the rules no longer defined.
func runSegments(segs []jobs.SegmentationReport) []runSegmentJSON {
	var out []runSegmentJSON
	for _, sr := range segs {
		for _, seg := range sr.Segments {
			if seg.Name != removedSegment {
				out = append(out, runSegmentJSON{Segmentation: sr.Name, Segment: seg.Name, Customers: seg.After})
			}
		}
	}
	return out
}

// moveJSON is one recorded move in history's JSON document.
type moveJSON struct {
	ID           int64     `json:"id"`
	RuleSet      string    `json:"ruleset"`
	Segmentation string    `json:"segmentation"`
	From         *string   `json:"from"`
	To           string    `json:"to"`
	Matched      string    `json:"matched"`
	Reason       string    `json:"reason"`
	AsOf         time.Time `json:"as_of"`
	RunID        int64     `json:"run_id"`
}

// actionItemJSON is one queue row in the action list's JSON document.
type actionItemJSON struct {
	ID             int64           `json:"id"`
	RuleSet        string          `json:"ruleset"`
	Action         string          `json:"action"`
	Customer       string          `json:"customer"`
	Payload        json.RawMessage `json:"payload"`
	Priority       int             `json:"priority"`
	Status         string          `json:"status"`
	CreatedAt      time.Time       `json:"created_at"`
	DueAt          time.Time       `json:"due_at"`
	Attempts       int             `json:"attempts"`
	LastError      *string         `json:"last_error,omitempty"`
	RunID          int64           `json:"run_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	// Outcome, OutcomeAt and Note are how the follow-up ended (or, for a
	// held-out or suppressed action, why it was withheld); Segments the
	// customer's segments when it was queued.
	Outcome   string            `json:"outcome,omitempty"`
	OutcomeAt *time.Time        `json:"outcome_at,omitempty"`
	Note      string            `json:"note,omitempty"`
	Segments  map[string]string `json:"segments,omitempty"`
}

// followUpJSON copies a queued action's outcome, note and segments into
// its JSON item.
func followUpJSON(item *actionItemJSON, a *kernel.QueuedAction) {
	item.Outcome, item.Note, item.Segments = a.Outcome, a.Note, a.Segments
	if a.OutcomeAt != nil {
		t := a.OutcomeAt.UTC()
		item.OutcomeAt = &t
	}
}

// tableJSON writes one document per call, with format_version.
type tableJSON struct{ w io.Writer }

func (v tableJSON) Runs(runs []kernel.Run, segments RunSegments) error {
	out := make([]runJSON, len(runs))
	for i, r := range runs {
		out[i] = runJSON{ID: r.ID, RuleSet: r.RuleSet, RulesHash: r.RulesHash, Kind: r.Kind, AsOf: r.AsOf, Slot: r.Slot,
			Status: r.Status, StartedAt: r.Started, FinishedAt: r.Finished,
			Customers: r.Customers, Changed: r.Changed, Actions: r.Actions, Errors: r.Errors, Error: r.Error,
			Parent: r.Parent, Shard: r.Shard, Segments: runSegments(segments[r.ID])}
	}
	return writeJSON(v.w, struct {
		FormatVersion int       `json:"format_version"`
		Runs          []runJSON `json:"runs"`
	}{FormatVersion, out})
}

func (v tableJSON) History(customer string, moves []kernel.HistoryEntry) error {
	out := make([]moveJSON, len(moves))
	for i, e := range moves {
		out[i] = moveJSON{ID: e.ID, RuleSet: e.RuleSet, Segmentation: e.Segmentation, From: e.From, To: e.To,
			Matched: e.Matched, Reason: e.Reason, AsOf: e.AsOf, RunID: e.RunID}
	}
	return writeJSON(v.w, struct {
		FormatVersion int        `json:"format_version"`
		Customer      string     `json:"customer"`
		Moves         []moveJSON `json:"moves"`
	}{FormatVersion, customer, out})
}

func (v tableJSON) Actions(rows []kernel.QueuedAction) error {
	out := make([]actionItemJSON, len(rows))
	for i, r := range rows {
		payload := r.Payload
		if len(payload) == 0 {
			payload = json.RawMessage("{}")
		}
		out[i] = actionItemJSON{ID: r.ID, RuleSet: r.RuleSet, Action: r.Action, Customer: r.Customer, Payload: payload,
			Priority: r.Priority, Status: r.Status, CreatedAt: r.CreatedAt, DueAt: r.DueAt, Attempts: r.Attempts,
			LastError: r.LastError, RunID: r.RunID, IdempotencyKey: r.Idempotent}
		followUpJSON(&out[i], &rows[i])
	}
	return writeJSON(v.w, struct {
		FormatVersion int              `json:"format_version"`
		Actions       []actionItemJSON `json:"actions"`
	}{FormatVersion, out})
}
