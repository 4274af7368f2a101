package views

import (
	"io"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// explainDoc is explain's JSON document (docs/output.md).
type explainDoc struct {
	FormatVersion int         `json:"format_version"`
	Explanations  []traceJSON `json:"explanations"`
}

// traceJSON is one customer's evaluation by one rule set.
type traceJSON struct {
	RuleSet       string             `json:"ruleset"`
	RuleSetLabel  string             `json:"ruleset_label,omitempty"`
	Customer      string             `json:"customer"`
	AsOf          time.Time          `json:"as_of"`
	Segmentations []segmentationJSON `json:"segmentations"`
	Actions       []actionJSON       `json:"actions"`
	Errors        []ruleErrorJSON    `json:"errors"`
	// Run is the recorded run this evaluation re-evaluates (explain
	// --run); omitted otherwise.
	Run *explainedRunJSON `json:"run,omitempty"`
	// Derived lists the derived facts the rules read, with their kind
	// and declaration; omitted for a rule set without derived facts.
	Derived []derivedJSON `json:"derived,omitempty"`
}

// segmentationJSON is one segmentation's decision and the rules tried.
type segmentationJSON struct {
	Name     string         `json:"name"`
	Label    string         `json:"label,omitempty"`
	Previous assignmentJSON `json:"previous"`
	Decision decisionJSON   `json:"decision"`
	Tried    []ruleJSON     `json:"tried"`
	Note     string         `json:"note,omitempty"`
	Coverage *coverageJSON  `json:"coverage,omitempty"`
}

// coverageJSON is the customer's standing against its segment's coverage
// target; days_since_covered is null when it was never covered.
type coverageJSON struct {
	State            string `json:"state"`
	DaysSinceCovered *int   `json:"days_since_covered"`
}

// assignmentJSON is a customer's segment in a segmentation; times are
// null when unknown or not pending.
type assignmentJSON struct {
	Segment      string     `json:"segment"`
	Since        *time.Time `json:"since"`
	PendingSince *time.Time `json:"pending_since"`
}

// decisionJSON is where the run leaves the customer, and why.
type decisionJSON struct {
	assignmentJSON
	Changed bool   `json:"changed"`
	Reason  string `json:"reason"`
	Matched string `json:"matched"`
}

// ruleJSON is one segment's condition as tried.
type ruleJSON struct {
	Segment string     `json:"segment"`
	Label   string     `json:"label,omitempty"`
	When    string     `json:"when"`
	Outcome string     `json:"outcome"`
	Error   string     `json:"error,omitempty"`
	Reads   []factJSON `json:"reads"`
}

// factJSON is a fact a condition read, with its value.
type factJSON struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// actionJSON is one action's outcome for the customer.
type actionJSON struct {
	Name    string      `json:"name"`
	Label   string      `json:"label,omitempty"`
	When    string      `json:"when"`
	Outcome string      `json:"outcome"`
	Why     string      `json:"why,omitempty"`
	Reads   []factJSON  `json:"reads"`
	Queued  *queuedJSON `json:"queued"`
}

// queuedJSON is the action item a fired action queues.
type queuedJSON struct {
	Priority int            `json:"priority"`
	Due      time.Time      `json:"due"`
	Payload  map[string]any `json:"payload"`
}

// ruleErrorJSON is a rule that failed for the customer.
type ruleErrorJSON struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// explainJSON collects traces and writes them on Close.
type explainJSON struct {
	w   io.Writer
	doc explainDoc
}

func (v *explainJSON) Trace(rs *rules.RuleSet, tr *engine.Trace) error {
	v.doc.Explanations = append(v.doc.Explanations, newTraceJSON(rs, tr))
	return nil
}

func (v *explainJSON) Close() error { return writeJSON(v.w, v.doc) }

func newTraceJSON(rs *rules.RuleSet, tr *engine.Trace) traceJSON {
	out := traceJSON{
		RuleSet: rs.Name, RuleSetLabel: rs.Label, Customer: tr.Key, AsOf: tr.AsOf,
		Segmentations: []segmentationJSON{}, Actions: []actionJSON{}, Errors: []ruleErrorJSON{},
	}
	for _, st := range tr.Segmentations {
		s := segmentationJSON{
			Name: st.Name, Label: st.Label, Note: st.Note,
			Previous: newAssignmentJSON(st.Previous),
			Decision: decisionJSON{
				assignmentJSON: newAssignmentJSON(st.Decision.Assignment),
				Changed:        st.Decision.Changed(),
				Reason:         reasonName(st.Decision.Reason),
				Matched:        st.Decision.Matched,
			},
			Tried: []ruleJSON{},
		}
		if st.Coverage != engine.CoverageNone {
			s.Coverage = &coverageJSON{State: st.Coverage.String()}
			if d := st.DaysSinceCovered; d >= 0 {
				s.Coverage.DaysSinceCovered = &d
			}
		}
		for _, rt := range st.Tried {
			s.Tried = append(s.Tried, ruleJSON{Segment: rt.Segment, Label: rt.Label, When: rt.When,
				Outcome: string(rt.Outcome), Error: rt.Error, Reads: newFactsJSON(rs, rt.Reads)})
		}
		out.Segmentations = append(out.Segmentations, s)
	}
	for _, at := range tr.Actions {
		a := actionJSON{Name: at.Name, Label: at.Label, When: at.When, Outcome: string(at.Outcome), Why: at.Why, Reads: newFactsJSON(rs, at.Reads)}
		if q := at.Queued; q != nil {
			payload := q.Payload
			if payload == nil {
				payload = map[string]any{}
			}
			a.Queued = &queuedJSON{Priority: q.Priority, Due: q.Due, Payload: payload}
		}
		out.Actions = append(out.Actions, a)
	}
	for _, re := range traceErrors(tr) {
		out.Errors = append(out.Errors, ruleErrorJSON{Rule: re.Rule, Message: re.Message()})
	}
	out.Derived = derivedReads(rs, tr)
	return out
}

func newAssignmentJSON(a engine.Assignment) assignmentJSON {
	return assignmentJSON{Segment: a.Segment, Since: timeOrNull(a.Since), PendingSince: timeOrNull(a.PendingSince)}
}

// newFactsJSON lists the facts a rule read; a date fact's value is its
// day ("2024-06-30"), not the midnight instant that holds it.
func newFactsJSON(rs *rules.RuleSet, reads []engine.FactValue) []factJSON {
	out := make([]factJSON, len(reads))
	for i, r := range reads {
		out[i] = factJSON{Name: r.Name, Value: r.Value}
		if t, ok := r.Value.(time.Time); ok {
			if f, _, found := rs.Facts.Lookup(r.Name); found && f.Type == rules.TypeDate {
				out[i].Value = t.Format(time.DateOnly)
			}
		}
	}
	return out
}

// reasonName names a decision's reason; "" when there was no decision.
func reasonName(r engine.Reason) string {
	if r == 0 {
		return ""
	}
	return r.String()
}

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
