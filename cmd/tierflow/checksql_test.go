package main

import (
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
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "check", "--explain-sql", "--format", "json", retailRules).want(t, exitFailure)
	if !strings.Contains(r.stderr, "--explain-sql prints text") {
		t.Errorf("stderr: %s", r.stderr)
	}
}
