package jobs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// recordedOutcome is what run id wrote for the customer: its history
// rows, in the order of rs's segmentations (then of the record), and the
// actions it queued, segment syncs left out.
func recordedOutcome(rs *rules.RuleSet, rec *CustomerRecord, id int64) RunOutcome {
	var out RunOutcome
	order := make(map[string]int, len(rs.Segmentations))
	for i, s := range rs.Segmentations {
		order[s.Name] = i
	}
	for _, m := range rec.Moves {
		if m.RunID == id {
			out.Moves = append(out.Moves, RunMove{Segmentation: m.Segmentation, From: m.From, To: m.To, Reason: m.Reason})
		}
	}
	slices.SortStableFunc(out.Moves, func(a, b RunMove) int { return rank(order, a.Segmentation) - rank(order, b.Segmentation) })
	for _, q := range rec.Actions {
		if q.RunID == id && !isSync(q.Action) {
			out.Actions = append(out.Actions, RunAction{ID: q.ID, Action: q.Action, Status: q.Status, Due: q.Due})
		}
	}
	return out
}

// rank is a segmentation's place in order; one the rules no longer
// define comes last.
func rank(order map[string]int, name string) int {
	if i, ok := order[name]; ok {
		return i
	}
	return len(order)
}

// evaluatedOutcome is what an evaluation would write: a move for each
// decision that changes the segment, and the actions queued and
// withheld (none when noActions, as on a first run).
func evaluatedOutcome(rs *rules.RuleSet, res *engine.Result, noActions bool) RunOutcome {
	var out RunOutcome
	for i, d := range res.Segments {
		if d.Changed() {
			out.Moves = append(out.Moves, RunMove{Segmentation: rs.Segmentations[i].Name, From: d.Previous, To: d.Segment, Reason: d.Reason.String()})
		}
	}
	if noActions {
		return out
	}
	for _, a := range res.Actions {
		out.Actions = append(out.Actions, RunAction{Action: a.Name, Status: "queued", Due: a.Due})
	}
	for _, w := range res.Withheld {
		out.Actions = append(out.Actions, RunAction{Action: w.Name, Status: string(w.Status), Due: w.Due})
	}
	return out
}

// sameOutcome reports whether two outcomes have the same moves and the
// same actions with the same dispositions, in any order.
func sameOutcome(a, b *RunOutcome) bool {
	return slices.Equal(outcomeKeys(a), outcomeKeys(b))
}

func outcomeKeys(o *RunOutcome) []string {
	var keys []string
	for _, m := range o.Moves {
		keys = append(keys, "move "+m.Segmentation+" "+m.From+" "+m.To)
	}
	for _, a := range o.Actions {
		keys = append(keys, "action "+a.Action+" "+a.Disposition())
	}
	slices.Sort(keys)
	return keys
}

// SelectRun picks, among runs (the run record of rule set ruleset), the
// succeeded apply as of asOf: the latest of those that recorded a move
// or an action of the customer whose record is rec, else the latest.
// When there is none, the error names the nearest succeeded applies
// before and after asOf.
func SelectRun(ruleset string, runs []RunRef, asOf time.Time, rec *CustomerRecord) (RunRef, error) {
	var at, done []RunRef
	for _, r := range runs {
		if r.Status != StatusSucceeded || r.RuleSet != ruleset {
			continue
		}
		done = append(done, r)
		if r.AsOf.Equal(asOf) {
			at = append(at, r)
		}
	}
	slices.SortFunc(at, func(a, b RunRef) int { return int(b.ID - a.ID) })
	for _, r := range at {
		if touched(rec, r.ID) {
			return r, nil
		}
	}
	if len(at) > 0 {
		return at[0], nil
	}
	return RunRef{}, noRunAt(ruleset, done, asOf)
}

// touched reports whether run id recorded a move or an action of the
// customer.
func touched(rec *CustomerRecord, id int64) bool {
	for _, m := range rec.Moves {
		if m.RunID == id {
			return true
		}
	}
	for _, q := range rec.Actions {
		if q.RunID == id {
			return true
		}
	}
	return false
}

// noRunAt says that no succeeded apply of ruleset is as of asOf, naming
// the nearest before and after it among done.
func noRunAt(ruleset string, done []RunRef, asOf time.Time) error {
	if len(done) == 0 {
		return fmt.Errorf("%s has no succeeded apply yet (tierflow runs lists its runs)", ruleset)
	}
	var before, after *RunRef
	for i := range done {
		r := &done[i]
		if r.AsOf.Before(asOf) && (before == nil || r.AsOf.After(before.AsOf) || r.AsOf.Equal(before.AsOf) && r.ID > before.ID) {
			before = r
		}
		if r.AsOf.After(asOf) && (after == nil || r.AsOf.Before(after.AsOf) || r.AsOf.Equal(after.AsOf) && r.ID > after.ID) {
			after = r
		}
	}
	var near []string
	for _, r := range []*RunRef{before, after} {
		if r != nil {
			near = append(near, fmt.Sprintf("run %d as of %s", r.ID, dayOrTime(r.AsOf)))
		}
	}
	return fmt.Errorf("no succeeded apply of %s is as of %s; the nearest: %s (give one with --run, by id or as-of; tierflow runs lists them all)",
		ruleset, dayOrTime(asOf), strings.Join(near, " and "))
}
