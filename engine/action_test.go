package engine_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

const actionRules = `
ruleset: acts
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
  - name: call
    when: spend >= 100
    cooldown: 30d
    delay: 2d
    priority: 3
    payload:
      owner: account_manager
      level: 2
      share: 0.5
      urgent: true
      spend: =spend
      tier: =segment.tier
      note: ='spent ' + string(spend)
  - name: note
    when: spend >= 100
    priority: 7
  - name: never
    when: spend < 0
    cooldown: 1d
`

func TestActions(t *testing.T) {
	rs := compile(t, actionRules)
	e := engine.New(rs)
	tests := []struct {
		name  string
		spend float64
		last  map[string]time.Time
		want  []string
	}{
		{"never queued: fires", 150, nil, []string{"call", "note"}},
		{"condition false: nothing", 50, nil, nil},
		{"inside the cooldown: suppressed", 150, map[string]time.Time{"call": asOf.Add(-10 * day)}, []string{"note"}},
		{"one second inside the cooldown: suppressed", 150, map[string]time.Time{"call": asOf.Add(-30*day + time.Second)}, []string{"note"}},
		{"exactly at the cooldown boundary: fires", 150, map[string]time.Time{"call": asOf.Add(-30 * day)}, []string{"call", "note"}},
		{"long after the cooldown: fires", 150, map[string]time.Time{"call": date("2020-01-01")}, []string{"call", "note"}},
		{"last queued after as-of: suppressed", 150, map[string]time.Time{"call": asOf.Add(day)}, []string{"note"}},
		{"no cooldown: fires again at once", 150, map[string]time.Time{"note": asOf}, []string{"call", "note"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.Evaluate(asOf, customer(t, rs, "c1", in{facts: map[string]any{"spend": tt.spend}, last: tt.last}))
			if got := actionNames(res); !slices.Equal(got, tt.want) {
				t.Errorf("actions = %v, want %v", got, tt.want)
			}
			if len(res.Errors) > 0 {
				t.Errorf("errors: %v", res.Errors)
			}
		})
	}
}

func TestQueuedAction(t *testing.T) {
	rs := compile(t, actionRules)
	res := engine.New(rs).Evaluate(asOf, customer(t, rs, "c1", in{facts: map[string]any{"spend": 150}}))
	want := []engine.QueuedAction{
		{
			Name: "call", Priority: 3, Due: asOf.Add(2 * day),
			Payload: map[string]any{
				"owner": "account_manager", "level": 2, "share": 0.5, "urgent": true,
				"spend": 150.0, "tier": "big", "note": "spent 150",
			},
		},
		{Name: "note", Priority: 7, Due: asOf},
	}
	if !reflect.DeepEqual(res.Actions, want) {
		t.Errorf("got  %+v\nwant %+v", res.Actions, want)
	}
}

// Payload maps belong to the result: changing one changes neither the
// rule set nor later results.
func TestPayloadIsFresh(t *testing.T) {
	rs := compile(t, actionRules)
	e := engine.New(rs)
	c := customer(t, rs, "c1", in{facts: map[string]any{"spend": 150}})
	first := e.Evaluate(asOf, c)
	first.Actions[0].Payload["owner"] = "someone else"
	if got := e.Evaluate(asOf, c).Actions[0].Payload["owner"]; got != "account_manager" {
		t.Errorf("owner = %v after changing an earlier payload", got)
	}
}
