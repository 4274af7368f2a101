package rules_test

import (
	"errors"
	"fmt"

	"github.com/tierflow/tierflow/rules"
)

func ExampleCompile() {
	src := []byte(`ruleset: shop
params:
  vip_spend: 10000
facts:
  spend_12m: number
  last_order_at: time?
segmentations:
  - name: value_tier
    label: 客户价值等级
    segments:
      - name: vip
        when: spend_12m >= params.vip_spend
      - name: regular
        when: spend_12m >= 100
      - name: small
        fallback: true
  - name: lifecycle
    segments:
      - name: churned
        when: is_null(last_order_at) || days_since(last_order_at) > 365
      - name: active
        fallback: true
`)
	rs, err := rules.Compile("shop.yaml", src, rules.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range rs.Segmentations {
		fmt.Printf("%s (%s):", s.Name, s.DisplayLabel())
		for _, seg := range s.Segments {
			fmt.Printf(" %d.%s", seg.Rank, seg.Name)
		}
		fmt.Println()
	}
	// Output:
	// value_tier (客户价值等级): 1.vip 2.regular 3.small
	// lifecycle (lifecycle): 1.churned 2.active
}

func ExampleCompile_error() {
	src := []byte(`ruleset: shop
facts:
  spend_12m: number
segmentations:
  - name: value_tier
    segments:
      - name: vip
        when: spend_12 >= 10000
      - name: small
        fallback: true
`)
	_, err := rules.Compile("shop.yaml", src, rules.Options{})
	var list rules.ErrorList
	if errors.As(err, &list) {
		for _, d := range list {
			fmt.Println(d)
		}
	}
	// Output:
	// shop.yaml:8:15: segmentations.value_tier.segments.vip.when: unknown name "spend_12" (did you mean "spend_12m"?)
	//    8 |         when: spend_12 >= 10000
	//      |               ^
}

func ExampleParseDuration() {
	for _, s := range []string{"30d", "2w", "36h", "1y"} {
		d, err := rules.ParseDuration(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s, "=", d, "=", rules.FormatDuration(d))
	}
	// Output:
	// 30d = 720h0m0s = 30d
	// 2w = 336h0m0s = 14d
	// 36h = 36h0m0s = 36h0m0s
	// "1y" is not a duration (write 30d, 2w or 12h)
}
