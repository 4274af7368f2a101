package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// actions done and fail record how a follow-up ended, checked against
// the action's declared outcomes, and say in one line what they
// recorded; actions show prints it with the customer's segments when the
// action was queued, and why withheld actions were withheld.
func TestActionsDoneFail(t *testing.T) {
	t.Parallel()
	config, ids := outcomeProject(t, "")
	call := ids["vip_call"]
	r := runCLI(t, nil, "actions", "done", call, "--outcome", "no_answer", "--note", "rang twice", "--at", "2024-07-01T10:30:00+08:00", "--config", config).want(t, exitOK)
	if want := "action " + call + " done: vip_call for customer 1, outcome no_answer, at 2024-07-01T02:30:00Z\n"; r.stdout != want {
		t.Errorf("done printed %q, want %q", r.stdout, want)
	}
	show := runCLI(t, nil, "actions", "show", call, "--config", config).want(t, exitOK)
	for _, want := range []string{"status           done\n", "outcome          no_answer\n", "outcome at       2024-07-01T02:30:00Z\n",
		"note             rang twice\n", "segments         tier=vip (when queued)\n", "payload          {}\noutcome", "\n\nno delivery attempts"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("actions show lacks %q:\n%s", want, show.stdout)
		}
	}

	// A later report replaces the earlier one; without --at it is timed
	// by the clock (runCLI's: 2024-07-01T15:04:05Z); a date is midnight.
	r = runCLI(t, nil, "actions", "fail", call, "--note", "number disconnected", "--config", config).want(t, exitOK)
	if want := "action " + call + " failed: vip_call for customer 1, at 2024-07-01T15:04:05Z\n"; r.stdout != want {
		t.Errorf("fail printed %q, want %q", r.stdout, want)
	}
	show = runCLI(t, nil, "actions", "show", call, "--config", config).want(t, exitOK)
	if !strings.Contains(show.stdout, "status           failed") || strings.Contains(show.stdout, "outcome          ") ||
		!strings.Contains(show.stdout, "note             number disconnected") {
		t.Errorf("after fail, actions show:\n%s", show.stdout)
	}
	r = runCLI(t, nil, "actions", "done", call, "--outcome", "reached", "--at", "2024-07-01", "--config", config).want(t, exitOK)
	if !strings.HasSuffix(r.stdout, "outcome reached, at 2024-07-01T00:00:00Z\n") {
		t.Errorf("done --at 2024-07-01 printed %q", r.stdout)
	}

	for name, want := range map[string]string{
		"vip_mail":   "withheld         contact limit 1 per 7d reached",
		"small_note": "withheld         in the 99.99% holdout group",
	} {
		show := runCLI(t, nil, "actions", "show", ids[name], "--config", config).want(t, exitOK)
		if !strings.Contains(show.stdout, want) {
			t.Errorf("actions show of %s lacks %q:\n%s", name, want, show.stdout)
		}
	}
	for status, action := range map[string]string{"held_out": "small_note", "suppressed": "vip_mail"} {
		list := runCLI(t, nil, "actions", "list", "--status", status, "--config", config).want(t, exitOK)
		if !strings.Contains(list.stdout, action) || strings.Contains(list.stdout, "vip_call") {
			t.Errorf("actions list --status %s:\n%s", status, list.stdout)
		}
	}
}

// What goes wrong is said in words, with exit 1, as for retry and cancel.
func TestActionsDoneFailErrors(t *testing.T) {
	t.Parallel()
	config, ids := outcomeProject(t, "")
	call := ids["vip_call"]
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no id", []string{"done", "--outcome", "reached"}, "actions done: give one action id, e.g. tierflow actions done 1042"},
		{"two ids", []string{"fail", call, call}, "actions fail: give one action id"},
		{"not an id", []string{"done", "x1", "--outcome", "reached"}, `actions done: "x1" is not an action id`},
		{"no such action", []string{"done", "999", "--outcome", "reached"}, "actions done: no action 999 in the queue"},
		{"undeclared outcome", []string{"done", call, "--outcome", "reachd"}, `actions done: invalid outcome: "reachd" is not an outcome of action vip_call; it declares reached, no_answer`},
		{"no outcome", []string{"done", call}, "actions done: invalid outcome: action vip_call needs an outcome, one of reached, no_answer"},
		{"outcome of a failure", []string{"fail", call, "--outcome", "no_answer"}, "flag provided but not defined: -outcome"},
		{"held out", []string{"done", ids["small_note"]}, "actions done: the action cannot take an outcome: action " + ids["small_note"] + " is held_out; only pending, claimed, done or failed actions take an outcome"},
		{"suppressed", []string{"fail", ids["vip_mail"]}, "is suppressed; only pending, claimed, done or failed actions take an outcome"},
		{"bad time", []string{"done", call, "--outcome", "reached", "--at", "yesterday"}, `actions done: --at: "yesterday" is not a date`},
		{"future", []string{"done", call, "--outcome", "reached", "--at", "2024-07-02"}, "actions done: --at: 2024-07-02T00:00:00Z is in the future (the clock says 2024-07-01T15:04:05Z)"},
		{"subcommand", []string{"don", call}, `actions: did you mean "done"?`},
		{"status", []string{"list", "--status", "held_ot"}, `--status "held_ot": did you mean "held_out"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, append(append([]string{"actions"}, tt.args...), "--config", config)...).want(t, exitFailure)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r)
			}
		})
	}
	if got := statusOf(t, config, call); got != "pending" {
		t.Errorf("after refused reports the action is %s", got)
	}
}

// An action whose rule file the config no longer lists can still fail,
// but not take an outcome, which tierflow could not check.
func TestActionsDoneUnknownRuleSet(t *testing.T) {
	t.Parallel()
	config, ids := outcomeProject(t, "")
	other := filepath.Join(filepath.Dir(config), "other.yaml")
	cfg := "database: {path: state.db}\nrulesets:\n  - rules: rules/other.yaml\n    source: {file: facts.csv}\n"
	writeFiles(t, filepath.Dir(config), map[string]string{
		"other.yaml":       cfg,
		"rules/other.yaml": strings.Replace(outcomeRules, "ruleset: shop", "ruleset: other", 1),
	})
	r := runCLI(t, nil, "actions", "done", ids["vip_call"], "--outcome", "reached", "--config", other).want(t, exitFailure)
	if !strings.Contains(r.stderr, `belongs to rule set "shop", which is not loaded; run in the project that defines it`) {
		t.Errorf("done for a rule set the config does not list:\n%s", r)
	}
	runCLI(t, nil, "actions", "fail", ids["vip_call"], "--config", other).want(t, exitOK)

	// A rule file that does not compile is named, not taken for absent.
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "rules", "shop.yaml"), []byte(strings.Replace(outcomeRules, `entered("tier", "vip")`, `entered("tier", "vipp")`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "actions", "done", ids["vip_call"], "--outcome", "reached", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "rules/shop.yaml has errors; fix them first (tierflow check)") {
		t.Errorf("done with a broken rule file:\n%s", r)
	}
}

// actions --help shows the new subcommands with examples.
func TestActionsHelpOutcomes(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "actions", "--help").want(t, exitOK)
	for _, want := range []string{"tierflow actions done ID [--outcome NAME] [--note TEXT] [--at TIME]", "tierflow actions fail ID",
		"tierflow actions done 1042 --outcome reached", "tierflow actions fail 1042 --note", "--status held_out", "/v1/actions/ID/outcome"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("actions --help lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "actions", "done", "--help").want(t, exitOK)
	for _, want := range []string{"-outcome outcome", "-at time", "-note text"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("actions done --help lacks %q:\n%s", want, r.stdout)
		}
	}
}
