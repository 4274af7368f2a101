package views

import (
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// explainedRunJSON is a recorded run beside today's evaluation of it, in an
// explanation of explain --run (docs/output.md).
type explainedRunJSON struct {
	ID           int64          `json:"id"`
	AsOf         time.Time      `json:"as_of"`
	RulesHash    string         `json:"rules_hash"`
	RulesChanged bool           `json:"rules_changed"`
	Verdict      string         `json:"verdict"`
	Recorded     runOutcomeJSON `json:"recorded"`
	Evaluated    runOutcomeJSON `json:"evaluated"`
	Notes        []string       `json:"notes"`
}

// runOutcomeJSON is what a run did, or would do, for the customer.
type runOutcomeJSON struct {
	Moves   []runMoveJSON   `json:"moves"`
	Actions []runActionJSON `json:"actions"`
}

type runMoveJSON struct {
	Segmentation string `json:"segmentation"`
	From         string `json:"from"`
	To           string `json:"to"`
	Reason       string `json:"reason"`
}

// runActionJSON is an action; id is the queue's, omitted for an
// evaluated one.
type runActionJSON struct {
	ID     int64     `json:"id,omitempty"`
	Action string    `json:"action"`
	Status string    `json:"status"`
	Due    time.Time `json:"due"`
}

// Run adds the explanation of a recorded run: its trace, with the run.
func (v *explainJSON) Run(rs *rules.RuleSet, x *jobs.RunExplanation) error {
	tr := newTraceJSON(rs, x.Trace)
	notes := x.Notes
	if notes == nil {
		notes = []string{}
	}
	tr.Run = &explainedRunJSON{ID: x.Run.ID, AsOf: x.Run.AsOf, RulesHash: x.Run.RulesHash, RulesChanged: x.RulesChanged, Verdict: string(x.Verdict),
		Recorded: newRunOutcomeJSON(x.Recorded), Evaluated: newRunOutcomeJSON(x.Evaluated), Notes: notes}
	v.doc.Explanations = append(v.doc.Explanations, tr)
	return nil
}

func newRunOutcomeJSON(o jobs.RunOutcome) runOutcomeJSON {
	out := runOutcomeJSON{Moves: []runMoveJSON{}, Actions: []runActionJSON{}}
	for _, m := range o.Moves {
		out.Moves = append(out.Moves, runMoveJSON{Segmentation: m.Segmentation, From: m.From, To: m.To, Reason: m.Reason})
	}
	for _, a := range o.Actions {
		out.Actions = append(out.Actions, runActionJSON{ID: a.ID, Action: a.Action, Status: a.Status, Due: a.Due})
	}
	return out
}
