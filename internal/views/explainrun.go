package views

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Run writes one customer's part in a recorded run: what the run
// recorded, how today's evaluation at its as-of compares, then that
// evaluation's trace, said to be one.
func (v *explainText) Run(rs *rules.RuleSet, x *jobs.RunExplanation) error {
	return flush(v.w, func(b *bytes.Buffer) {
		if v.seen {
			b.WriteString("\n")
		}
		v.seen = true
		fmt.Fprintf(b, "customer %s, rule set %s, run %d as of %s\n\n", x.Customer, labelled(rs.Name, rs.Label), x.Run.ID, formatValue(x.Run.AsOf))
		for _, p := range runVerdict(x) {
			b.WriteString(p + "\n")
		}
		if x.Verdict != jobs.VerdictAgrees {
			width := max(displayWidth(recordedLabel(x)), displayWidth(evaluatedLabel))
			fmt.Fprintf(b, "  %s  %s\n", pad(recordedLabel(x)+":", width+1), outcomeLine(x.Recorded))
			fmt.Fprintf(b, "  %s  %s\n", pad(evaluatedLabel+":", width+1), outcomeLine(x.Evaluated))
			fmt.Fprintf(b, "What follows is today's evaluation, not the record (tierflow history --customer %s shows the record).\n", x.Customer)
		}
		for _, n := range x.Notes {
			fmt.Fprintf(b, "note: %s\n", n)
		}
		b.WriteString("\n")
		WriteTrace(b, x.Trace)
		for _, re := range traceErrors(x.Trace) {
			fmt.Fprintf(b, "error: %s: %s\n", re.Rule, re.Message())
		}
	})
}

// evaluatedLabel names today's evaluation beside the record.
const evaluatedLabel = "today's evaluation"

func recordedLabel(x *jobs.RunExplanation) string { return fmt.Sprintf("recorded by run %d", x.Run.ID) }

// runVerdict says, in sentences, what the run recorded and whether
// today's evaluation agrees: the record first, never the evaluation in
// its place.
func runVerdict(x *jobs.RunExplanation) []string {
	how := fmt.Sprintf("at run %d's as-of, from the state before it and today's facts", x.Run.ID)
	var out []string
	if x.RulesChanged {
		out = append(out, fmt.Sprintf("The rules have changed since run %d (its rules hash %s, today's %s): the evaluation uses today's rules and params.",
			x.Run.ID, shortHash(x.Run.RulesHash), shortHash(x.RulesHash)))
	}
	if x.Verdict == jobs.VerdictAgrees {
		return append(out, recordSentence(x)+".", "Re-evaluated "+how+", the rules agree with the record:")
	}
	what := "The facts differ"
	if x.RulesChanged {
		what = "The facts or the rules differ"
	}
	return append(out, fmt.Sprintf("%s from those of run %d: re-evaluated %s, the rules do not give what it recorded.", what, x.Run.ID, how))
}

// recordSentence says what the run recorded for the customer: "run 2
// moved 42 in lifecycle from active to at_risk, and queued winback_call
// (action 7, now pending)".
func recordSentence(x *jobs.RunExplanation) string {
	r := &x.Recorded
	if r.Empty() {
		return fmt.Sprintf("run %d recorded no move and no action for customer %s", x.Run.ID, x.Customer)
	}
	var parts []string
	if len(r.Moves) > 0 {
		var moves []string
		for _, m := range r.Moves {
			moves = append(moves, fmt.Sprintf("in %s from %s to %s", m.Segmentation, orNone(m.From), orNone(m.To)))
		}
		parts = append(parts, fmt.Sprintf("moved %s %s", x.Customer, inWords(moves)))
	} else {
		parts = append(parts, "did not move "+x.Customer)
	}
	if len(r.Actions) > 0 {
		parts = append(parts, actionsText(r.Actions))
	}
	return fmt.Sprintf("run %d %s", x.Run.ID, strings.Join(parts, ", and "))
}

// actionsText says what was done with actions: "queued winback_call
// (action 7, now pending)", "withheld winback_call (held_out)".
func actionsText(acts []jobs.RunAction) string {
	var queued, withheld []string
	for _, a := range acts {
		s := a.Action + " (" + actionState(a) + ")"
		if a.Disposition() == "queued" {
			queued = append(queued, s)
		} else {
			withheld = append(withheld, s)
		}
	}
	var parts []string
	if len(queued) > 0 {
		parts = append(parts, "queued "+strings.Join(queued, ", "))
	}
	if len(withheld) > 0 {
		parts = append(parts, "withheld "+strings.Join(withheld, ", "))
	}
	return strings.Join(parts, ", and ")
}

// actionState is a recorded action's id and its status today, or an
// evaluated one's disposition.
func actionState(a jobs.RunAction) string {
	if a.ID == 0 {
		return a.Status
	}
	return fmt.Sprintf("action %d, now %s", a.ID, a.Status)
}

// outcomeLine is an outcome on one line: "lifecycle active -> at_risk;
// queued winback_call (action 7, now pending)".
func outcomeLine(o jobs.RunOutcome) string {
	if o.Empty() {
		return "no move, no action"
	}
	var parts []string
	for _, m := range o.Moves {
		parts = append(parts, fmt.Sprintf("%s %s -> %s", m.Segmentation, orNone(m.From), orNone(m.To)))
	}
	if len(o.Moves) == 0 {
		parts = append(parts, "no move")
	}
	if len(o.Actions) > 0 {
		parts = append(parts, actionsText(o.Actions))
	} else {
		parts = append(parts, "no action")
	}
	return strings.Join(parts, "; ")
}

// shortHash is the start of a rules hash, enough to tell two apart.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// inWords joins a list as a sentence does: "a", "a and b", "a, b and c".
func inWords(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
