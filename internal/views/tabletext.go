package views

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// tableText writes aligned columns for a terminal.
type tableText struct{ w io.Writer }

func (v tableText) Runs(runs []kernel.Run, segments RunSegments) error {
	return v.RunsDerived(runs, segments, nil)
}

func (v tableText) History(customer string, moves []kernel.HistoryEntry) error {
	if len(moves) == 0 {
		_, err := fmt.Fprintf(v.w, "no recorded moves for customer %s\n", customer)
		return err
	}
	return flush(v.w, func(b *bytes.Buffer) {
		for _, e := range moves {
			why := reasonText(e.Reason)
			if e.Matched != "" {
				why += "; matched " + e.Matched
			}
			fmt.Fprintf(b, "%s  %s.%s  %s -> %s  (%s; run %d)\n",
				formatValue(e.AsOf), e.RuleSet, e.Segmentation, orNone(deref(e.From)), orNone(e.To), why, e.RunID)
		}
	})
}

func (v tableText) Actions(rows []kernel.QueuedAction) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(v.w, "no actions match")
		return err
	}
	return flush(v.w, func(b *bytes.Buffer) {
		fmt.Fprintf(b, "%-8s %-10s %-22s %-12s %-4s %-10s %-20s %s\n", "id", "ruleset", "action", "customer", "prio", "status", "due", "payload")
		for _, r := range rows {
			fmt.Fprintf(b, "%-8d %-10s %-22s %-12s %-4d %-10s %-20s %s\n", r.ID, r.RuleSet, r.Action, r.Customer, r.Priority, r.Status,
				formatValue(r.DueAt.UTC()), string(r.Payload))
		}
	})
}

// segmentSizes shows a segmentation's sizes after a run, in rank order:
// "vip 1,200  key 3,400", each joined by sep.
func segmentSizes(sr jobs.SegmentationReport, sep string) string {
	var parts []string
	for _, seg := range sr.Segments {
		if seg.Name != removedSegment {
			parts = append(parts, seg.Name+" "+Thousands(seg.After))
		}
	}
	return strings.Join(parts, sep)
}

// removedSegment is the plan report's name for customers whose previous
// segment the rules no longer define.
const removedSegment = "(removed)"

// runWhen is the time a run is listed by: its slot if scheduled, else its
// as-of time, in UTC.
func runWhen(r kernel.Run) time.Time {
	if r.Slot != nil {
		return r.Slot.UTC()
	}
	return r.AsOf.UTC()
}

// runTook is how long a finished run took, "-" for one still running.
func runTook(r kernel.Run) string {
	if r.Finished == nil {
		return "-"
	}
	return r.Finished.Sub(r.Started).Round(time.Millisecond).String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
