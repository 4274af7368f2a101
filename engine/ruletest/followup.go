package ruletest

import (
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// compareWithheld checks the actions a case expects to be withheld with
// status (expect.suppressed or expect.held_out) against those that were.
func compareWithheld(status engine.WithheldStatus, want []string, tr *engine.Trace) []string {
	res := tr.Result
	var fails []string
	for _, name := range want {
		wa := withheld(res, name)
		switch {
		case wa != nil && wa.Status == status:
			continue
		case wa != nil:
			fails = append(fails, fmt.Sprintf("expected action %s to be %s, but it was %s (%s)", name, statusWords(status), statusWords(wa.Status), wa.Reason))
		case queued(res, name):
			fails = append(fails, fmt.Sprintf("expected action %s to be %s, but it was queued", name, statusWords(status)))
		default:
			msg := fmt.Sprintf("expected action %s to be %s, but it did not fire", name, statusWords(status))
			if why := whyNot(tr, name); why != "" {
				msg += " (" + why + ")"
			}
			fails = append(fails, msg)
		}
	}
	var extra []string
	for _, wa := range res.Withheld {
		if wa.Status == status && !contains(want, wa.Name) {
			extra = append(extra, fmt.Sprintf("%s (%s)", wa.Name, wa.Reason))
		}
	}
	if len(extra) > 0 {
		fails = append(fails, fmt.Sprintf("unexpected action(s) %s: %s", statusWords(status), strings.Join(extra, ", ")))
	}
	return fails
}

// compareCoverage checks the coverage state a case expects per
// segmentation.
func compareCoverage(rs *rules.RuleSet, want map[string]string, tr *engine.Trace) []string {
	var fails []string
	for _, name := range sortedKeys(want) {
		_, i := rs.Segmentation(name)
		got := engine.CoverageNone
		if i < len(tr.Result.Coverage) {
			got = tr.Result.Coverage[i]
		}
		if got.String() == want[name] {
			continue
		}
		msg := fmt.Sprintf("%s: expected coverage %s, got %s", name, want[name], got)
		if st := segmentationTrace(tr, name); st != nil {
			msg += fmt.Sprintf(" (in %s, %s)", orNoSegment(st.Decision.Segment), coveredWords(st.DaysSinceCovered))
		}
		fails = append(fails, msg)
	}
	return fails
}

func coveredWords(days int) string {
	switch days {
	case -1:
		return "never covered"
	case 1:
		return "last covered 1 day ago"
	}
	return fmt.Sprintf("last covered %d days ago", days)
}

func statusWords(s engine.WithheldStatus) string {
	if s == engine.HeldOut {
		return "held out"
	}
	return string(s)
}

func withheld(res *engine.Result, name string) *engine.WithheldAction {
	for i := range res.Withheld {
		if res.Withheld[i].Name == name {
			return &res.Withheld[i]
		}
	}
	return nil
}

func queued(res *engine.Result, name string) bool {
	for _, q := range res.Actions {
		if q.Name == name {
			return true
		}
	}
	return false
}

// whyNot says why the trace's action did not fire.
func whyNot(tr *engine.Trace, name string) string {
	for _, at := range tr.Actions {
		if at.Name == name {
			return at.Why
		}
	}
	return ""
}

func segmentationTrace(tr *engine.Trace, name string) *engine.SegmentationTrace {
	for _, st := range tr.Segmentations {
		if st.Name == name {
			return st
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
