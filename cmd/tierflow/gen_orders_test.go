package main

import (
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
)

// gen --kind orders writes the orders of the customers --kind retail
// writes with the same flags: their amounts in the 12 calendar months
// before the snapshot sum to each customer's spend_12m (to the cent).
func TestGenOrdersSumToTheRetailFacts(t *testing.T) {
	t.Parallel()
	args := []string{"--customers", "1000", "--seed", "7", "--as-of", "2024-07-01"}
	facts := runCommand(t, runGen, nil, args...).want(t, exitOK)
	orders := runCommand(t, runGen, nil, append([]string{"--kind", "orders"}, args...)...).want(t, exitOK)
	if !strings.Contains(orders.stderr, "orders of the retail customers as of 2024-07-01 (seed 7)") {
		t.Errorf("stderr: %s", orders.stderr)
	}
	read := func(s string) [][]string {
		rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	orderRows := read(orders.stdout)
	if got := strings.Join(orderRows[0], ","); got != "order_id,customer_id,ordered_at,amount" {
		t.Fatalf("orders header %q", got)
	}
	cents := map[string]int64{}
	for _, r := range orderRows[1:] {
		if r[2] < "2023-07-01" || r[2] >= "2024-07-01" { // the 12 calendar months before the snapshot
			continue
		}
		a, err := strconv.ParseFloat(r[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		cents[r[1]] += int64(a*100 + 0.5)
	}
	factRows := read(facts.stdout)
	checked := 0
	for _, r := range factRows[1:] {
		spend, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(spend*100 + 0.5); cents[r[0]] != want {
			t.Fatalf("customer %s: orders in the 12 months sum to %d cents, spend_12m is %d", r[0], cents[r[0]], want)
		}
		checked++
	}
	if checked != 1000 || len(orderRows) < 2000 {
		t.Fatalf("%d customers checked, %d orders", checked, len(orderRows)-1)
	}
	runCommand(t, runGen, nil, "--kind", "order").want(t, exitFailure)
}
