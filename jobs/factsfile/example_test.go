package factsfile_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

// Facts come from every file the glob matches, in name order; the second
// file is gzipped and has its columns in another order.
func ExampleOpen() {
	rs, err := rules.Compile("shop.yaml", []byte(`ruleset: shop
facts:
  spend: number
  last_order_at: time?
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
`), rules.Options{})
	if err != nil {
		log.Fatal(err)
	}
	src, err := factsfile.Open("testdata/customers-*.csv*", "")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	fr, err := src.OpenFacts(ctx, rs)
	if err != nil {
		log.Fatal(err)
	}
	defer fr.Close()
	err = fr.Stream(ctx, 2, func(batch []engine.Customer) error {
		fmt.Println("batch:")
		for _, c := range batch {
			fmt.Println(" ", c.Key, c.Facts)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// batch:
	//   c1 [120 2024-06-30 00:00:00 +0000 UTC]
	//   c2 [70 <nil>]
	// batch:
	//   c3 [15.5 2024-05-01 00:00:00 +0000 UTC]
}

// CheckFacts says what in the files does not fit the rule set, and how
// to fix it.
func ExampleSource_CheckFacts() {
	rs, err := rules.Compile("shop.yaml", []byte(`ruleset: shop
facts:
  spend: integer
  region: string
  last_order_at: bool
segmentations:
  - name: tier
    segments:
      - name: all
        fallback: true
`), rules.Options{})
	if err != nil {
		log.Fatal(err)
	}
	src, err := factsfile.Open("testdata/customers-1.csv", "")
	if err != nil {
		log.Fatal(err)
	}
	problems, err := src.CheckFacts(context.Background(), rs)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// fact "region" (string): no column "region" in the header of testdata/customers-1.csv: add it to the export, or remove the fact from the rule file
	// testdata/customers-1.csv:2: column last_order_at holds "2024-06-30", which is not true or false: fix the export, or change the type of fact "last_order_at" (bool) in the rule file
	// testdata/customers-1.csv:3: column last_order_at is empty, but fact "last_order_at" is not nullable: fill it in the export, or declare the fact bool? in the rule file
}
