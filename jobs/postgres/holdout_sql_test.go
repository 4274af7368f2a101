package postgres_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// The SQL that docs/rules.md gives to find a holdout group outside
// tierflow puts every customer in the bucket rules.HoldoutBucket does.
func TestHoldoutSQLInDocs(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sql\n(SELECT customer_id,\\s+\\(get_byte.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/rules.md has no holdout bucket query")
	}
	query := strings.TrimSpace(regexp.MustCompile(`(?m)^--.*$`).ReplaceAllString(string(m[1]), ""))
	query = strings.TrimSuffix(query, ";")
	var keys []string
	for i := range 2000 {
		keys = append(keys, fmt.Sprint(i))
	}
	keys = append(keys, "C019", "客户-42", "a b", "")
	s := newStore(t, 0)
	exec(t, s, `CREATE TABLE customers (customer_id text)`)
	for _, k := range keys {
		exec(t, s, `INSERT INTO customers VALUES ($1)`, k)
	}
	rows, err := s.DB().Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var key string
		var bucket int
		if err := rows.Scan(&key, &bucket); err != nil {
			t.Fatal(err)
		}
		if want := rules.HoldoutBucket("care", "winback_offer", "2024", key); bucket != want {
			t.Errorf("key %q: the documented SQL gives bucket %d, tierflow %d", key, bucket, want)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(keys) {
		t.Fatalf("the query returned %d rows for %d customers", n, len(keys))
	}
}
