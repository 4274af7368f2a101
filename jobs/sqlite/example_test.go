package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/sqlite"
	"github.com/tierflow/tierflow/rules"
)

// A rule set applied to facts kept in the same SQLite file as tierflow's
// state: the first apply assigns every customer, the second finds
// nothing to change.
func Example() {
	dir, err := os.MkdirTemp("", "tierflow")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "tierflow.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(ctx, false); err != nil {
		log.Fatal(err)
	}
	if _, err := store.DB().Exec(`CREATE TABLE customer_facts (
			customer_id INTEGER PRIMARY KEY, spend_12m REAL, spend_prev_12m REAL, orders_12m INTEGER,
			first_order_at TEXT, last_order_at TEXT, channel TEXT);
		INSERT INTO customer_facts VALUES
			(1, 62000, 58000, 9, '2019-03-02', '2024-06-28', 'online'),
			(2, 1200, 3100, 2, '2021-11-20', '2024-05-01', 'store'),
			(3, 300, 0, 1, '2024-06-10', '2024-06-10', 'partner')`); err != nil {
		log.Fatal(err)
	}
	src, err := os.ReadFile("../../examples/retail/retail.yaml")
	if err != nil {
		log.Fatal(err)
	}
	rs, err := rules.Compile("retail.yaml", src, rules.Options{})
	if err != nil {
		log.Fatal(err)
	}
	opts := jobs.Options{AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Guard: jobs.DefaultGuard}
	// The facts: a table of the same file, read joined to the state.
	facts := jobs.FactsByRuleSet{"retail": store.Source("customer_facts")}
	for range 2 {
		out, err := jobs.Apply(ctx, store, facts, rs, opts)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("initial=%v customers=%d changed=%d\n", out.Report.Initial, out.Report.Customers, out.Report.Changed)
	}
	history, err := store.History(ctx, "retail", "2")
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range history {
		fmt.Printf("customer 2: %s -> %s (%s)\n", h.Segmentation, h.To, h.Matched)
	}
	// Output:
	// initial=true customers=3 changed=3
	// initial=false customers=3 changed=0
	// customer 2: value_tier -> regular (regular)
	// customer 2: lifecycle -> at_risk (at_risk)
	// customer 2: source -> store (store)
}
