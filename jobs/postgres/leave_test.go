package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

const leaveRules = `ruleset: leave
key: id
on_missing: exit
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: farewell
    when: left("tier") && previous.tier == "vip"
`

// On PostgreSQL, with the facts on the state database (one query) and on
// another connection (looked up by key): customers the source no longer
// returns leave their segments with history and their left() action, a
// duplicated key refuses the run writing nothing, and on_duplicate would
// be needed to let it through.
func TestCustomersLeaveAndDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, joined := range []bool{true, false} {
		s, url := newStoreURL(t, 0)
		exec(t, s, `CREATE TABLE f (id text PRIMARY KEY, spend float8)`)
		exec(t, s, `INSERT INTO f SELECT g::text, CASE WHEN g <= 2 THEN 500 ELSE 5 END FROM generate_series(1, 10) g`)
		var src jobs.FactsSource = s.Source("f")
		if !joined {
			db, err := postgres.OpenDatabase(ctx, url, "facts")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			src = db.Source("f")
		}
		rs, err := rules.Compile("leave.yaml", []byte(leaveRules), rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := opts()
		if _, err := jobs.Apply(ctx, s, src, rs, o); err != nil {
			t.Fatal(err)
		}
		exec(t, s, `DELETE FROM f WHERE id IN ('1', '3')`)
		o.AsOf = o.AsOf.Add(24 * time.Hour)
		out, err := jobs.Apply(ctx, s, src, rs, o)
		if err != nil {
			t.Fatalf("joined=%v: %v", joined, err)
		}
		if q := out.Report.Quality; q.Absent != 2 || q.Left != 2 || out.Report.Changed != 2 || out.Report.Actions[0].Count != 1 {
			t.Fatalf("joined=%v: quality %+v, changed %d, actions %+v; want 1 and 3 to leave, 1 (a vip) with a farewell", joined, q, out.Report.Changed, out.Report.Actions)
		}
		if n := count(t, s, `SELECT count(*) FROM tierflow.assignments WHERE ruleset = 'leave' AND customer_key IN ('1', '3')`); n != 0 {
			t.Fatalf("joined=%v: %d assignments left for customers who left", joined, n)
		}
		if n := count(t, s, `SELECT count(*) FROM tierflow.history WHERE ruleset = 'leave' AND to_segment = '' AND reason = 'left'`); n != 2 {
			t.Fatalf("joined=%v: %d history rows of leaving, want 2", joined, n)
		}
		exec(t, s, `ALTER TABLE f DROP CONSTRAINT f_pkey`)
		exec(t, s, `INSERT INTO f VALUES ('5', 7), ('5', 8)`)
		before := count(t, s, `SELECT count(*) FROM tierflow.history`)
		o.AsOf = o.AsOf.Add(24 * time.Hour)
		_, err = jobs.Apply(ctx, s, src, rs, o)
		var dup *jobs.DuplicateKeysError
		if !errors.As(err, &dup) || dup.Count != 2 || len(dup.Keys) != 1 || dup.Keys[0] != "5" {
			t.Fatalf("joined=%v: apply with customer 5 three times: %v, want the duplicates refused", joined, err)
		}
		if after := count(t, s, `SELECT count(*) FROM tierflow.history`); after != before {
			t.Fatalf("joined=%v: the refused apply wrote %d history rows", joined, after-before)
		}
	}
}
