package engine_test

import (
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

const exampleRules = `
ruleset: shop
facts:
  spend_12m: number
  last_order_at: time?
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 50000
        downgrade_grace: 90d
      - name: regular
        when: spend_12m >= 1000
      - name: small
        fallback: true
actions:
  - name: vip_welcome
    when: entered("tier", "vip")
    delay: 1d
    payload:
      template: vip_welcome
      spend: =spend_12m
`

func ExampleEngine_Evaluate() {
	rs, err := rules.Compile("shop.yaml", []byte(exampleRules), rules.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := engine.New(rs)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

	// Facts are in schema order: spend_12m, last_order_at.
	c := &engine.Customer{
		Key:   "c-1001",
		Facts: []any{62000.0, time.Date(2024, 6, 20, 0, 0, 0, 0, time.UTC)},
		State: engine.State{Segments: []engine.Assignment{
			{Segment: "regular", Since: time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)},
		}},
	}
	res := e.Evaluate(asOf, c)
	for i, d := range res.Segments {
		fmt.Printf("%s: %s -> %s (%s), since %s\n", rs.Segmentations[i].Name, d.Previous, d.Segment, d.Reason, d.Since.Format(time.DateOnly))
	}
	for _, q := range res.Actions {
		fmt.Printf("queue %s due %s: %v\n", q.Name, q.Due.Format(time.DateOnly), q.Payload)
	}
	// Output:
	// tier: regular -> vip (matched), since 2024-07-01
	// queue vip_welcome due 2024-07-02: map[spend:62000 template:vip_welcome]
}

func ExampleEngine_Explain() {
	rs, err := rules.Compile("shop.yaml", []byte(exampleRules), rules.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := engine.New(rs)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

	// A VIP whose spending dipped: downgrade_grace keeps them VIP.
	c := &engine.Customer{
		Key:   "c-1002",
		Facts: []any{8000.0, nil},
		State: engine.State{Segments: []engine.Assignment{
			{Segment: "vip", Since: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)},
		}},
	}
	tr := e.Explain(asOf, c)
	for _, st := range tr.Segmentations {
		fmt.Printf("%s: %s (%s)\n", st.Name, st.Decision.Segment, st.Decision.Reason)
		for _, rt := range st.Tried {
			fmt.Printf("  %-8s %-11s %s %v\n", rt.Segment, rt.Outcome, rt.When, rt.Reads)
		}
		fmt.Println("  " + st.Note)
	}
	for _, at := range tr.Actions {
		fmt.Printf("action %s: %s (%s)\n", at.Name, at.Outcome, at.Why)
	}
	// Output:
	// tier: vip (downgrade_grace)
	//   vip      false       spend_12m >= 50000 [{spend_12m 8000}]
	//   regular  true        spend_12m >= 1000 [{spend_12m 8000}]
	//   small    not reached  []
	//   regular matched, but downgrade_grace keeps the customer in vip: pending since 2024-07-01, moves on 2024-09-29 unless they requalify
	// action vip_welcome: false (condition is false)
}
