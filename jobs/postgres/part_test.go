package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
)

// The parts a read of every customer is split into (decidedPart) hold
// each key in exactly one of them, and about an equal share each, as
// the merge of the parts' rows assumes: a key in none would go unread,
// one in two would be read twice.
func TestDecidedPartsCoverEachKeyOnce(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	const keys = 40000
	for _, n := range []int{2, 4, 8} {
		var in []string
		for p := range n {
			in = append(in, "CASE WHEN "+decidedPart("k", n, p)+" THEN 1 ELSE 0 END")
		}
		const from = ` FROM (SELECT g::text AS k FROM generate_series(1, $1) g) AS s`
		var wrong, lo, hi, parts int
		q := `SELECT count(*) FILTER (WHERE ` + strings.Join(in, " + ") + ` <> 1)` + from
		if err := db.QueryRowContext(ctx, q, keys).Scan(&wrong); err != nil {
			t.Fatalf("%d parts: %v\n%s", n, err, q)
		}
		q = `SELECT min(c), max(c), count(*) FROM (SELECT count(*) AS c` + from + ` GROUP BY ` + partOf("k", n) + `) AS x`
		if err := db.QueryRowContext(ctx, q, keys).Scan(&lo, &hi, &parts); err != nil {
			t.Fatalf("%d parts: %v\n%s", n, err, q)
		}
		if parts != n {
			t.Errorf("%d parts: the keys fall in %d of them", n, parts)
		}
		if wrong != 0 {
			t.Errorf("%d parts: %d of %d keys are in no part or in more than one", n, wrong, keys)
		}
		// Each part's share, binomial around keys/n: within 10%.
		if want := keys / n; lo < want*9/10 || hi > want*11/10 {
			t.Errorf("%d parts: shares from %d to %d keys, want about %d each", n, lo, hi, want)
		}
	}
}

// partOf is the number of the part of n that key is in, by the same
// conditions, for grouping.
func partOf(key string, n int) string {
	var whens []string
	for p := range n {
		whens = append(whens, "WHEN "+decidedPart(key, n, p)+" THEN "+string(rune('0'+p)))
	}
	return "CASE " + strings.Join(whens, " ") + " END"
}
