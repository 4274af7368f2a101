package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// stateBefore rebuilds the customer's state before run from its record,
// with notes where the record cannot tell exactly.
//
// A segment and its since date are the last move before the run (the
// history has every move), or the current assignment when no run since
// has written it. When a downgrade grace may have been pending is not in
// the history: it is read from the current assignment where that tells
// (see pendingBefore), inferred from a downgrade the run recorded, or
// taken as none, with a note. Last action times, outcomes and contacts
// come from the queue rows of earlier runs, as the stores read them
// (FollowUpQuery); an outcome reported after the run with an earlier
// time counts, and an action cancelled after the run is no contact.
func stateBefore(rs *rules.RuleSet, rec *CustomerRecord, run RunRef) (engine.State, []string) {
	st := engine.State{Segments: make([]engine.Assignment, len(rs.Segmentations)), LastActions: make([]time.Time, len(rs.Actions))}
	var notes []string
	for i, s := range rs.Segmentations {
		a, note := assignmentBefore(s, rec, run)
		st.Segments[i] = a
		if note != "" {
			notes = append(notes, note)
		}
	}
	index := actionIndex(rs)
	for _, q := range earlierActions(rec, run.ID) {
		i, ok := index[q.Action]
		if ok && q.Status != ActionSuppressed && q.Created.After(st.LastActions[i]) {
			st.LastActions[i] = q.Created
		}
	}
	if q, need := followUpQuery(rs, run.AsOf); need {
		st.Outcomes, st.Contacts = followUpsBefore(index, earlierActions(rec, run.ID), q)
	}
	return st, notes
}

func actionIndex(rs *rules.RuleSet) map[string]int {
	m := make(map[string]int, len(rs.Actions))
	for i, a := range rs.Actions {
		m[a.Name] = i
	}
	return m
}

// earlierActions are the customer's actions queued before run id, segment
// syncs left out.
func earlierActions(rec *CustomerRecord, id int64) []RecordedAction {
	var out []RecordedAction
	for _, q := range rec.Actions {
		if q.RunID < id && !isSync(q.Action) {
			out = append(out, q)
		}
	}
	return out
}

func isSync(action string) bool { return strings.HasPrefix(action, "sync.") }

// followUpsBefore is LoadFollowUps on the queue rows of earlier runs.
func followUpsBefore(index map[string]int, acts []RecordedAction, q FollowUpQuery) ([]engine.ActionOutcome, []engine.Contact) {
	var outcomes []engine.ActionOutcome
	var contacts []engine.Contact
	latest := map[[2]string]int{} // action and outcome -> index in outcomes
	for _, a := range acts {
		i, known := index[a.Action]
		if q.Outcomes && known && a.Outcome != "" && !a.OutcomeAt.IsZero() && !a.OutcomeAt.After(q.Until) {
			k := [2]string{a.Action, a.Outcome}
			if j, ok := latest[k]; !ok {
				latest[k] = len(outcomes)
				outcomes = append(outcomes, engine.ActionOutcome{Action: i, Outcome: a.Outcome, At: a.OutcomeAt})
			} else if a.OutcomeAt.After(outcomes[j].At) {
				outcomes[j].At = a.OutcomeAt
			}
		}
		if q.Contacts && a.Created.After(q.ContactsSince) && !a.Created.After(q.Until) && isContact(a.Status) {
			ct := engine.Contact{Action: -1, At: a.Created}
			if known {
				ct.Action = i
			}
			contacts = append(contacts, ct)
		}
	}
	return outcomes, contacts
}

func isContact(status string) bool {
	return status != ActionHeldOut && status != ActionSuppressed && status != ActionCancelled
}

// assignmentBefore is the customer's assignment in s before run.
func assignmentBefore(s *rules.Segmentation, rec *CustomerRecord, run RunRef) (engine.Assignment, string) {
	cur, hasCur := currentAssignment(rec, s.Name)
	if hasCur && cur.RunID < run.ID {
		return cur.Assignment, "" // nothing has written it since
	}
	var before engine.Assignment
	var moved *RecordedMove // the move the run recorded
	later := false          // a move after the run
	for i := range rec.Moves {
		m := &rec.Moves[i]
		switch {
		case m.Segmentation != s.Name:
		case m.RunID < run.ID:
			before = engine.Assignment{Segment: m.To, Since: m.AsOf}
		case m.RunID == run.ID:
			moved = m
		default:
			later = true
		}
	}
	if before.Segment == "" {
		return engine.Assignment{}, ""
	}
	k := s.SegmentIndex(before.Segment)
	if k < 0 || s.Segments[k].DowngradeGrace == 0 {
		return before, "" // no grace: never pending
	}
	if hasCur && moved == nil && !later && cur.Segment == before.Segment {
		if p, ok := pendingBefore(cur, run); ok {
			before.PendingSince = p
			return before, ""
		}
	}
	grace := s.Segments[k].DowngradeGrace
	if moved != nil && moved.From == before.Segment && s.SegmentIndex(moved.To) > k && (moved.Reason == "matched" || moved.Reason == "fallback") {
		before.PendingSince = run.AsOf.Add(-grace)
		return before, fmt.Sprintf("%s before run %d: when the downgrade grace in %s began is not kept; taken as %s, the latest that lets the run's recorded move to %s happen",
			s.Name, run.ID, before.Segment, dayOrTime(before.PendingSince), moved.To)
	}
	return before, fmt.Sprintf("%s before run %d: whether a downgrade grace in %s was pending is not kept; taken as none", s.Name, run.ID, before.Segment)
}

// pendingBefore reads the pending-since time before run from the current
// assignment cur, written by run or a later one without a move since the
// segment was entered; ok is false when it cannot tell. A run that wrote
// an assignment without moving the customer changed its pending time:
// one it set began with it (nothing was pending before), one it cleared
// began at a time the store does not keep.
func pendingBefore(cur RecordedAssignment, run RunRef) (time.Time, bool) {
	return time.Time{}, cur.RunID == run.ID && !cur.PendingSince.IsZero()
}

func currentAssignment(rec *CustomerRecord, segmentation string) (RecordedAssignment, bool) {
	for _, a := range rec.Assignments {
		if a.Segmentation == segmentation {
			return a, true
		}
	}
	return RecordedAssignment{}, false
}
