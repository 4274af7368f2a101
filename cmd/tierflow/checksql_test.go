package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckExplainSQL(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "check", "--explain-sql", retailRules).want(t, exitOK)
	for _, want := range []string{
		"retail (../../examples/retail/retail.yaml): 19 of 20 expressions translate to SQL exactly; 1 expression runs in the engine only",
		"  sql     ../../examples/retail/retail.yaml:41:15: segmentations.value_tier.segments.vip.when: ",
		`value (bool): `,
		"  engine  ../../examples/retail/retail.yaml:104:32: actions.winback_call.payload.reason: no exact SQL translation: string() of a number",
		"           104 | 'Spend fell ' + string(round(",
		"               |                 ^",
		"  in the database: no: the rule set has coverage targets, so every run evaluates every customer",
		"  whole evaluation in SQL: no: limits: contact limits count the customer's queued actions",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	// Without its coverage targets the example is decided in the
	// database; a condition without a translation says which.
	text := retailWithoutCoverage(t)
	dir := t.TempDir()
	lowered := strings.Replace(text, `when: channel == "online"`, `when: lower(channel) == "online"`, 1)
	if lowered == text {
		t.Fatal(`retail.yaml no longer has when: channel == "online"`)
	}
	writeFiles(t, dir, map[string]string{"retail.yaml": text, "lowered.yaml": lowered})
	for file, want := range map[string]string{
		"retail.yaml":  "  in the database: yes: an incremental run on PostgreSQL runs the segment and action conditions there",
		"lowered.yaml": "  in the database: no: segmentations.source.segments.online.when: ",
	} {
		if r := runCLI(t, nil, "check", "--explain-sql", filepath.Join(dir, file)).want(t, exitOK); !strings.Contains(r.stdout, want) {
			t.Errorf("%s: stdout lacks %q:\n%s", file, want, r.stdout)
		}
	}
	// Every part of churn_signals' evaluation translates.
	r = runCLI(t, nil, "check", "--explain-sql", filepath.Join("..", "..", "examples", "b2b", "churn_signals.yaml")).want(t, exitOK)
	if want := "  whole evaluation in SQL: yes: every decision, action, cooldown and payload translates"; !strings.Contains(r.stdout, want) {
		t.Errorf("churn_signals: stdout lacks %q:\n%s", want, r.stdout)
	}
	r = runCLI(t, nil, "check", "--explain-sql", "--format", "json", retailRules).want(t, exitFailure)
	if !strings.Contains(r.stderr, "--explain-sql prints text") {
		t.Errorf("stderr: %s", r.stderr)
	}
}
