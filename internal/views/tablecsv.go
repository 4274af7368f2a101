package views

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// tableCSV writes a header row named like the JSON fields, then one row
// per record. Times are RFC 3339 in UTC; a missing value is empty.
type tableCSV struct{ w io.Writer }

// Runs writes a row per run; segments is the class sizes after it,
// "value_tier.vip=1200; value_tier.key=3400; ...", empty for a run
// without them.
func (v tableCSV) Runs(runs []kernel.Run, segments RunSegments) error {
	rows := [][]string{{"id", "ruleset", "rules_hash", "kind", "as_of", "slot", "status", "started_at", "finished_at",
		"customers", "changed", "actions", "errors", "error", "segments"}}
	for _, r := range runs {
		var sizes []string
		for _, s := range runSegments(segments[r.ID]) {
			sizes = append(sizes, s.Segmentation+"."+s.Segment+"="+strconv.Itoa(s.Customers))
		}
		rows = append(rows, []string{itoa(r.ID), r.RuleSet, r.RulesHash, r.Kind, csvTime(r.AsOf), csvTimePtr(r.Slot), r.Status,
			csvTime(r.Started), csvTimePtr(r.Finished), itoa(r.Customers), itoa(r.Changed), itoa(r.Actions), itoa(r.Errors), deref(r.Error),
			strings.Join(sizes, "; ")})
	}
	return writeCSV(v.w, rows)
}

func (v tableCSV) History(customer string, moves []kernel.HistoryEntry) error {
	rows := [][]string{{"id", "customer", "ruleset", "segmentation", "from", "to", "matched", "reason", "as_of", "run_id"}}
	for _, e := range moves {
		rows = append(rows, []string{itoa(e.ID), customer, e.RuleSet, e.Segmentation, deref(e.From), e.To, e.Matched, e.Reason,
			csvTime(e.AsOf), itoa(e.RunID)})
	}
	return writeCSV(v.w, rows)
}

func (v tableCSV) Actions(queue []kernel.QueuedAction) error {
	rows := [][]string{{"id", "ruleset", "action", "customer", "priority", "status", "created_at", "due_at", "attempts",
		"last_error", "run_id", "idempotency_key", "payload"}}
	for _, r := range queue {
		rows = append(rows, []string{itoa(r.ID), r.RuleSet, r.Action, r.Customer, strconv.Itoa(r.Priority), r.Status,
			csvTime(r.CreatedAt), csvTime(r.DueAt), strconv.Itoa(r.Attempts), deref(r.LastError), itoa(r.RunID), r.Idempotent, string(r.Payload)})
	}
	return writeCSV(v.w, rows)
}

func writeCSV(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func csvTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}
