package rules_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/rules"
)

// Compile builds the fast path once, with one program per segmentation
// and one for every action's condition.
func TestCompileBuildsFastPath(t *testing.T) {
	src, err := os.ReadFile("../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("retail.yaml", src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Fast == nil {
		t.Fatal("Fast is nil")
	}
	if got, want := len(rs.Fast.Segmentations), len(rs.Segmentations); got != want {
		t.Errorf("%d segmentation programs for %d segmentations", got, want)
	}
	for i, p := range rs.Fast.Segmentations {
		if p == nil {
			t.Errorf("segmentation %s has no program", rs.Segmentations[i].Name)
		}
	}
	if rs.Fast.Actions == nil {
		t.Error("no actions program")
	}
}

// A condition may end with a // comment; combining it with the others
// must not comment out the rest of the combined program.
func TestFastPathTrailingComment(t *testing.T) {
	rs := mustCompile(t, `ruleset: comments
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100 // the big spenders
      - name: mid
        when: spend >= 10 // and the rest
      - name: small
        fallback: true
actions:
  - name: thank
    when: spend >= 100 // only the big ones
    cooldown: 30d
  - name: nudge
    when: spend < 10 // only the small ones
    cooldown: 30d
`)
	if rs.Fast == nil {
		t.Fatal("Fast is nil")
	}
	for _, tt := range []struct {
		spend    float64
		segment  int
		actionsM int
	}{
		{spend: 500, segment: 0, actionsM: 0b01},
		{spend: 50, segment: 1, actionsM: 0b00},
		{spend: 5, segment: 2, actionsM: 0b10},
	} {
		env := map[string]any{"spend": tt.spend}
		var machine vm.VM
		if got, err := machine.Run(rs.Fast.Segmentations[0], env); err != nil || got != tt.segment {
			t.Errorf("spend %v: segment %v, %v; want %d", tt.spend, got, err, tt.segment)
		}
		if got, err := machine.Run(rs.Fast.Actions, env); err != nil || got != tt.actionsM {
			t.Errorf("spend %v: actions mask %v, %v; want %b", tt.spend, got, err, tt.actionsM)
		}
	}
}

// With more actions than the mask holds bits, the segmentations still
// have their programs and the actions are evaluated one by one.
func TestFastPathTooManyActionsForMask(t *testing.T) {
	var b strings.Builder
	b.WriteString(`ruleset: many
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
actions:
`)
	for i := range 63 {
		fmt.Fprintf(&b, "  - name: a%d\n    when: spend >= %d\n    cooldown: 1d\n", i, i)
	}
	rs := mustCompile(t, b.String())
	if rs.Fast == nil || len(rs.Fast.Segmentations) != 1 {
		t.Fatalf("Fast = %+v; want one segmentation program", rs.Fast)
	}
	if rs.Fast.Actions != nil {
		t.Error("an actions program for 63 actions; the mask holds 62")
	}
}
