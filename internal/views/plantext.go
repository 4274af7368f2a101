package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// writePlanText writes a plan or apply report for people at a terminal,
// its moves and warnings coloured by st.
func writePlanText(w io.Writer, r *jobs.PlanReport, st Style) {
	what := "Plan"
	if r.Mode == "apply" {
		what = "Apply"
	}
	shard := ""
	if r.Shard != "" {
		shard = ", shard " + r.Shard
	}
	fmt.Fprintf(w, "%s for rule set %s as of %s%s\n", what, labelled(r.RuleSet, r.RuleSetLabel), formatValue(r.AsOf), shard)
	fmt.Fprintf(w, "  %s, %s change segment, %s actions to queue\n",
		customersText(r, ""), Thousands(r.Changed), Thousands(r.ActionsTotal))
	if inc := incrementalText(r.Incremental); inc != "" {
		fmt.Fprintf(w, "  incremental: %s\n", inc)
	}
	writeWarningsText(w, r.Quality, st)
	if d := driftText(r.Incremental); d != "" {
		fmt.Fprintf(w, "  %s %s\n", st.Warning("WARNING:"), d)
	}
	if d := misdecidedText(r.Incremental); d != "" {
		fmt.Fprintf(w, "  %s %s\n", st.Warning("WARNING:"), d)
	}
	if r.Initial {
		fmt.Fprintln(w, "  initial run: no customer has a segment yet, so everyone is assigned (the max_moved guard does not apply)")
	}
	for _, s := range r.Segmentations {
		writeSegmentationText(w, s, st)
	}
	if len(r.Actions) > 0 {
		fmt.Fprintln(w, "\nactions to queue:")
		for _, act := range r.Actions {
			line := fmt.Sprintf("  %s  %s", pad(labelled(act.Name, act.Label), 30), Thousands(act.Count))
			if held := withheldText(act); held != "" {
				line += "  (" + held + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(r.Coverage) > 0 {
		fmt.Fprintln(w, "\ncoverage:")
		writeCoverageText(w, "  ", r.Coverage)
	}
	if r.Errors.Customers > 0 {
		fmt.Fprintf(w, "\nrule errors: %s customers keep their previous segments\n", Thousands(r.Errors.Customers))
		for _, rule := range sortedKeys(r.Errors.ByRule) {
			fmt.Fprintf(w, "  %s: %s\n", rule, Thousands(r.Errors.ByRule[rule]))
		}
		for _, e := range r.Errors.Examples {
			fmt.Fprintf(w, "  e.g. customer %s: %s: %s\n", e.Customer, e.Rule, e.Message)
		}
	}
	if len(r.Samples) > 0 && !r.Initial {
		fmt.Fprintln(w, "\nsample moves (tierflow explain --customer KEY shows why):")
		for _, s := range r.Samples {
			move := st.move(moveDirection(segmentNames(r, s.Segmentation), s.From, s.To), orNone(s.From)+" -> "+orNone(s.To))
			fmt.Fprintf(w, "  customer %s: %s %s (%s)\n", s.Customer, s.Segmentation, move, reasonText(s.Reason))
		}
	}
	writePlanQualityText(w, r.Quality, r.Guard.Reasons)
	writeGuardText(w, r.Mode, r.Guard.Reasons, r.Quality)
	if !r.HasChanges() {
		fmt.Fprintln(w, "\nNo changes.")
	}
	fmt.Fprintln(w)
}

// withheldText counts an action's withheld items: "5 held out, 2
// suppressed"; "" when none was.
func withheldText(a jobs.ActionReport) string {
	var parts []string
	if a.HeldOut > 0 {
		parts = append(parts, Thousands(a.HeldOut)+" held out")
	}
	if a.Suppressed > 0 {
		parts = append(parts, Thousands(a.Suppressed)+" suppressed")
	}
	return strings.Join(parts, ", ")
}

// segmentNames are the segments of segmentation name in r, in rank order.
func segmentNames(r *jobs.PlanReport, name string) []string {
	var names []string
	for _, s := range r.Segmentations {
		if s.Name == name {
			for _, seg := range s.Segments {
				names = append(names, seg.Name)
			}
		}
	}
	return names
}

// writeSegmentationText writes one segmentation's sizes and moves, each
// move coloured by st as it goes up or down the segments' order.
func writeSegmentationText(w io.Writer, s jobs.SegmentationReport, st Style) {
	fmt.Fprintf(w, "\n%s: %s move\n", labelled(s.Name, s.Label), Thousands(s.Moved))
	nameW := len("segment")
	for _, seg := range s.Segments {
		nameW = max(nameW, displayWidth(labelled(seg.Name, seg.Label)))
	}
	fmt.Fprintf(w, "  %s  %10s  %10s  %10s\n", pad("segment", nameW), "before", "after", "change")
	for _, seg := range s.Segments {
		fmt.Fprintf(w, "  %s  %10s  %10s  %10s\n", pad(labelled(seg.Name, seg.Label), nameW),
			Thousands(seg.Before), Thousands(seg.After), signed(seg.After-seg.Before))
	}
	if len(s.Moves) == 0 {
		return
	}
	fmt.Fprintln(w, "  moves:")
	names := make([]string, len(s.Segments))
	for i, seg := range s.Segments {
		names[i] = seg.Name
	}
	for i, m := range s.Moves {
		if i == 10 {
			fmt.Fprintf(w, "    ... %d more\n", len(s.Moves)-10)
			break
		}
		line := fmt.Sprintf("%s -> %s  %s", orNone(m.From), orNone(m.To), Thousands(m.Count))
		fmt.Fprintf(w, "    %s\n", st.move(moveDirection(names, m.From, m.To), line))
	}
}

// guardVerb says what a guard's refusal means for a plan or an apply.
func guardVerb(mode string) string {
	if mode == "apply" {
		return "blocked this apply; nothing was written"
	}
	return "would block an apply"
}

// writeDiffText writes a rule-change preview for a terminal, its
// warnings and crossed limits coloured by st.
func writeDiffText(w io.Writer, r *jobs.DiffReport, st Style) {
	fmt.Fprintf(w, "Rule change preview for %s against %s, as of %s\n", labelled(r.RuleSet, r.RuleSetLabel), r.Baseline, formatValue(r.AsOf))
	if r.NewRuleSet {
		fmt.Fprintln(w, "  new rule set: the baseline does not have it")
	}
	fmt.Fprintf(w, "  %s customers evaluated with both versions; %s (%s) treated differently\n", Thousands(r.Customers), Thousands(r.Differ), pct(r.Differ, r.Customers))
	writeWarningsText(w, r.Quality, st)
	if r.Quality != nil && r.Quality.Failed {
		// A preview refuses nothing; it says what an apply would refuse.
		fmt.Fprintln(w, "  data-quality checks that would refuse an apply:")
		for _, c := range r.Quality.Checks {
			if !c.Passed {
				writeCheckText(w, c)
			}
		}
	}
	for _, s := range r.Segmentations {
		if s.Moved == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %s customers classified differently (baseline -> proposed)\n", labelled(s.Name, s.Label), Thousands(s.Moved))
		for i, c := range s.Changes {
			if i == 15 {
				fmt.Fprintf(w, "    ... %d more\n", len(s.Changes)-15)
				break
			}
			fmt.Fprintf(w, "    %s -> %s  %s\n", orNone(c.From), orNone(c.To), Thousands(c.Count))
		}
	}
	if acts := changedActions(r); len(acts) > 0 {
		fmt.Fprintln(w, "\nactions:")
		for _, a := range acts {
			fmt.Fprintf(w, "  %s  %s -> %s customers (+%s gained, -%s lost)\n", pad(labelled(a.Name, a.Label), 28),
				Thousands(a.Before), Thousands(a.After), Thousands(a.Added), Thousands(a.Removed))
		}
	}
	if changed := changedRules(r); len(changed) > 0 {
		fmt.Fprintln(w, "\nrules matching a different number of customers:")
		for _, rd := range changed {
			fmt.Fprintf(w, "  %s  %s -> %s (%s)\n", pad(rd.Rule, 32), Thousands(rd.Before), Thousands(rd.After), signed(rd.After-rd.Before))
		}
	}
	if r.NewErrors.Customers > 0 {
		fmt.Fprintf(w, "\nnew rule errors: %s\n", Thousands(r.NewErrors.Customers))
		for _, e := range r.NewErrors.Examples {
			fmt.Fprintf(w, "  e.g. customer %s: %s: %s\n", e.Customer, e.Rule, e.Message)
		}
	}
	if len(r.Samples) > 0 {
		fmt.Fprintln(w, "\nsample customers:")
		for _, s := range r.Samples {
			fmt.Fprintf(w, "  customer %s, %s: %s (%s) -> %s (%s)\n", s.Customer, s.Segmentation, orNone(s.Before), s.BeforeWhy, orNone(s.After), s.AfterWhy)
		}
	}
	for _, reason := range r.Limits.Reasons {
		fmt.Fprintf(w, "\n%s %s\n", st.Error("LIMIT CROSSED:"), reason)
	}
	if !r.HasEffect() {
		fmt.Fprintln(w, "\nNo effect: every customer is treated the same.")
	}
	fmt.Fprintln(w)
}

// changedActions are the actions some customer gains or loses.
func changedActions(r *jobs.DiffReport) []jobs.ActionDelta {
	var acts []jobs.ActionDelta
	for _, a := range r.Actions {
		if a.Added+a.Removed > 0 {
			acts = append(acts, a)
		}
	}
	return acts
}

// changedRules are the rules that match a different number of customers.
func changedRules(r *jobs.DiffReport) []jobs.RuleDelta {
	var changed []jobs.RuleDelta
	for _, rd := range r.Rules {
		if rd.Before != rd.After {
			changed = append(changed, rd)
		}
	}
	return changed
}

// writeWarningsText writes the quality report's warnings, such as stale
// facts, under a report's first lines, where they are seen.
func writeWarningsText(w io.Writer, q *jobs.QualityReport, st Style) {
	if q == nil {
		return
	}
	for _, warn := range q.Warnings {
		fmt.Fprintf(w, "  %s %s\n", st.Warning("WARNING:"), warn)
	}
}

// customersText is how many customers the report counts and, when an
// incremental run skipped some, how many of them it evaluated; each
// number between em and em (Markdown's ** for bold).
func customersText(r *jobs.PlanReport, em string) string {
	if inc := r.Incremental; inc != nil && inc.Skipped > 0 {
		return fmt.Sprintf("%s%s%s customers, %s%s%s of them evaluated (the others asleep)",
			em, Thousands(r.Customers), em, em, Thousands(r.Customers-inc.Skipped), em)
	}
	if inc := r.Incremental; inc != nil && inc.Decided > 0 {
		return fmt.Sprintf("%s%s%s customers, %s%s%s of them evaluated (the others unchanged, decided in the database)",
			em, Thousands(r.Customers), em, em, Thousands(r.Customers-inc.Decided), em)
	}
	return em + Thousands(r.Customers) + em + " customers evaluated"
}

// incrementalText says what an incremental run (jobs.Options.Incremental)
// left out and why it evaluated whom it did; "" for other runs.
func incrementalText(r *jobs.IncrementalReport) string {
	if r == nil || !r.Enabled {
		return ""
	}
	if r.Full != "" && r.InDatabase {
		return r.Full + ": PostgreSQL ran the rules on every customer; " + Thousands(r.Evaluate) + " evaluated, " +
			Thousands(r.Decided) + " unchanged and not read (their marks are not trusted until a run evaluates everyone)"
	}
	if r.Full != "" {
		return "every customer evaluated: " + r.Full
	}
	var why []string
	for _, n := range []struct {
		count int
		what  string
	}{{r.New, "new"}, {r.Changed, "with new facts"}, {r.Waking, "waking"}, {r.Left, "gone from the source"}, {r.FollowUps, "with contacts"}} {
		if n.count > 0 {
			why = append(why, Thousands(n.count)+" "+n.what)
		}
	}
	text := Thousands(r.Evaluate) + " evaluated"
	if len(why) > 0 {
		text += " (" + strings.Join(why, ", ") + ")"
	}
	text += ", " + Thousands(r.Skipped) + " asleep and skipped"
	switch {
	case r.NotRead > 0:
		text += ", " + Thousands(r.NotRead) + " of them not read"
	case r.ReadsAll != "":
		text += "; every customer was read: " + r.ReadsAll
	}
	switch {
	case r.InDatabase:
		text += "; PostgreSQL ran the rules first and left unread those they leave as they are"
	case r.NotInDatabase != "" && r.ReadsAll == "":
		text += "; the engine evaluated every customer the marks selected: " + r.NotInDatabase
	}
	return text
}

// misdecidedText warns of customers the database decided unchanged
// whose evaluation changed something (jobs.IncrementalReport.Misdecided);
// "" when there are none.
func misdecidedText(r *jobs.IncrementalReport) string {
	if r == nil || r.Misdecided == 0 {
		return ""
	}
	return fmt.Sprintf("%s of the %s customers PostgreSQL decided unchanged and this run checked did change (such as %s): "+
		"this run applied what the engine decided, but others like them were left unread; run with --engine-only until it is fixed, and please report it with these keys",
		Thousands(r.Misdecided), Thousands(r.Checked), strings.Join(r.MisdecidedSamples, ", "))
}

// driftText warns of customers whose marks said they needed no
// evaluation but whose evaluation changed something
// (jobs.IncrementalReport.Drift); "" when there are none.
func driftText(r *jobs.IncrementalReport) string {
	if r == nil || r.Drift == 0 {
		return ""
	}
	return fmt.Sprintf("%s customers changed although their wake-up times said nothing could (such as %s): "+
		"this run evaluated everyone, so its result is right, but an incremental run would have missed them; please report it with these keys",
		Thousands(r.Drift), strings.Join(r.DriftSamples, ", "))
}
