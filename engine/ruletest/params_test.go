package ruletest_test

import (
	"fmt"
	"testing"

	"github.com/tierflow/tierflow/engine/ruletest"
)

// withParams reads params in segment conditions, an action's condition
// and its payload; home is only read by a segment no case reaches, and
// unused by nothing.
const withParams = `
ruleset: with_params
params:
  vip_spend: 50000
  vip_orders: 6
  home: east
  regions: [east, north]
  bonus: 0.1
  unused: 1
facts:
  spend: number
  orders: integer
  region: string
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= params.vip_spend && orders >= params["vip_orders"]
      - name: local
        when: region == params.home
      - name: other
        fallback: true
actions:
  - name: welcome
    when: entered("tier", "vip") && region in params.regions
    cooldown: 30d
    payload:
      bonus: =spend * params.bonus
tests:
  - name: a vip expected small
    as_of: 2024-07-01
    facts: {spend: 60000, orders: 7, region: east}
    expect: {segments: {tier: other}}
  - name: passes
    as_of: 2024-07-01
    facts: {spend: 10, orders: 1, region: east}
    expect: {segments: {tier: local}}
`

// A failing case lists the params the evaluated rules read, once each, in
// the order they were read, with their values: those of segments not
// reached and of unfired payloads are left out, as are unused params.
func TestFailingCaseListsParamsRead(t *testing.T) {
	rs := compile(t, withParams)
	rep := ruletest.Run(rs)
	fail, pass := rep.Cases[0], rep.Cases[1]
	if fail.Passed() || !pass.Passed() {
		t.Fatalf("want the first case to fail and the second to pass: %v / %v", fail.Failures, pass.Failures)
	}
	got := fmt.Sprint(fail.Params)
	want := "[{vip_spend 50000} {vip_orders 6} {regions [east north]} {bonus 0.1}]"
	if got != want {
		t.Errorf("params of the failing case = %s, want %s", got, want)
	}
	if pass.Params != nil {
		t.Errorf("a passing case carries params: %v", pass.Params)
	}
}

// The params read follow the rules the case reached: a customer who is
// not a VIP reaches the second segment and reads home, and no payload.
func TestParamsReadFollowTheTrace(t *testing.T) {
	rs := compile(t, withParams)
	rs.Tests[1].Expect.Segments["tier"] = "vip"
	rep := ruletest.Run(rs)
	got := fmt.Sprint(rep.Cases[1].Params)
	want := "[{vip_spend 50000} {vip_orders 6} {home east} {regions [east north]}]"
	if got != want {
		t.Errorf("params = %s, want %s", got, want)
	}
}
