package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// printPlan writes a plan report for people at a terminal.
func printPlan(w io.Writer, r *jobs.PlanReport) {
	what := "Plan"
	if r.Mode == "apply" {
		what = "Apply"
	}
	fmt.Fprintf(w, "%s for rule set %s as of %s\n", what, labelled(r.RuleSet, r.RuleSetLabel), formatValue(r.AsOf))
	fmt.Fprintf(w, "  %s customers evaluated, %s change segment, %s actions to queue\n",
		thousands(r.Customers), thousands(r.Changed), thousands(r.ActionsTotal))
	if r.Initial {
		fmt.Fprintln(w, "  initial run: no customer has a segment yet, so everyone is assigned (the max_moved guard does not apply)")
	}
	for _, s := range r.Segmentations {
		fmt.Fprintf(w, "\n%s: %s move\n", labelled(s.Name, s.Label), thousands(s.Moved))
		nameW := len("segment")
		for _, seg := range s.Segments {
			nameW = max(nameW, displayWidth(labelled(seg.Name, seg.Label)))
		}
		fmt.Fprintf(w, "  %s  %10s  %10s  %10s\n", pad("segment", nameW), "before", "after", "change")
		for _, seg := range s.Segments {
			fmt.Fprintf(w, "  %s  %10s  %10s  %10s\n", pad(labelled(seg.Name, seg.Label), nameW),
				thousands(seg.Before), thousands(seg.After), signed(seg.After-seg.Before))
		}
		if len(s.Moves) > 0 {
			fmt.Fprintln(w, "  moves:")
			for i, m := range s.Moves {
				if i == 10 {
					fmt.Fprintf(w, "    ... %d more\n", len(s.Moves)-10)
					break
				}
				from := m.From
				if from == "" {
					from = "(none)"
				}
				fmt.Fprintf(w, "    %s -> %s  %s\n", from, m.To, thousands(m.Count))
			}
		}
	}
	if len(r.Actions) > 0 {
		fmt.Fprintln(w, "\nactions to queue:")
		for _, act := range r.Actions {
			fmt.Fprintf(w, "  %s  %s\n", pad(labelled(act.Name, act.Label), 30), thousands(act.Count))
		}
	}
	if r.Errors.Customers > 0 {
		fmt.Fprintf(w, "\nrule errors: %s customers keep their previous segments\n", thousands(r.Errors.Customers))
		for rule, n := range r.Errors.ByRule {
			fmt.Fprintf(w, "  %s: %s\n", rule, thousands(n))
		}
		for _, e := range r.Errors.Examples {
			fmt.Fprintf(w, "  e.g. customer %s: %s: %s\n", e.Customer, e.Rule, e.Message)
		}
	}
	if len(r.Samples) > 0 && !r.Initial {
		fmt.Fprintln(w, "\nsample moves (tierflow explain --customer KEY shows why):")
		for _, s := range r.Samples {
			fmt.Fprintf(w, "  customer %s: %s %s -> %s (%s)\n", s.Customer, s.Segmentation, orNone(s.From), s.To, s.Reason)
		}
	}
	if len(r.Guard.Reasons) > 0 {
		verb := "would block an apply"
		if r.Mode == "apply" {
			verb = "blocked this apply; nothing was written"
		}
		fmt.Fprintf(w, "\nguard %s:\n", verb)
		for _, reason := range r.Guard.Reasons {
			fmt.Fprintf(w, "  - %s\n", reason)
		}
	}
	if !r.HasChanges() {
		fmt.Fprintln(w, "\nNo changes.")
	}
	fmt.Fprintln(w)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// thousands formats n with thousands separators: 1,234,567.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func signed(n int) string {
	if n > 0 {
		return "+" + thousands(n)
	}
	if n == 0 {
		return "0"
	}
	return thousands(n)
}
