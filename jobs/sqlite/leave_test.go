package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const leaveRules = `ruleset: leave
key: id
on_missing: %s
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

// Customers the source no longer returns are counted under on_missing:
// keep and keep their segments; under exit they leave, with history, a
// left() action and the guard counting them; on the one-query path (facts
// on the state database) and with facts from another file alike.
func TestCustomersLeaveTheSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []string{"keep", "exit"} {
		for _, joined := range []bool{true, false} {
			name := mode
			if !joined {
				name += ", another file"
			}
			path := filepath.Join(t.TempDir(), "t.db")
			s, err := openTest(ctx, Config{Path: path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Migrate(ctx, false); err != nil {
				t.Fatal(err)
			}
			execAll(t, s, `CREATE TABLE f (id TEXT PRIMARY KEY, spend REAL)`,
				`INSERT INTO f VALUES ('1', 500), ('2', 5), ('3', 300), ('4', 7), ('5', 8), ('6', 9), ('7', 10), ('8', 11), ('9', 12), ('10', 13)`)
			var src jobs.FactsSource = s.Source("f")
			if !joined {
				db, err := OpenDatabase(ctx, path, "facts")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				src = db.Source("f")
			}
			src0 := fmt.Sprintf(leaveRules, mode)
			if mode == "keep" {
				// left() needs on_missing: exit; keep the action's count.
				src0 = strings.Replace(src0, `left("tier") && previous.tier == "vip"`, `false`, 1)
			}
			rs, err := rules.Compile("leave.yaml", []byte(src0), rules.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o := qualityOptions()
			if _, err := jobs.Apply(ctx, s, src, rs, o); err != nil {
				t.Fatal(err)
			}
			// A vip and a small customer leave the source.
			execAll(t, s, `DELETE FROM f WHERE id IN ('1', '2')`)
			o.AsOf = o.AsOf.AddDate(0, 0, 1)
			out, err := jobs.Apply(ctx, s, src, rs, o)
			// Under exit 2 of 10 move, within the guard's 20%; the
			// population it compares with the last run is the 8 the
			// source returned, within max_shrink's 25%.
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			q := out.Report.Quality
			if q == nil || q.Absent != 2 {
				t.Fatalf("%s: quality %+v, want 2 absent", name, q)
			}
			got := segments(t, s, rs.Name)
			if mode == "keep" {
				if q.Left != 0 || len(got) != 10 || got["1"] != "vip" || out.Report.Changed != 0 || out.Report.ActionsTotal != 0 {
					t.Fatalf("%s: left %d, changed %d, actions %d, assignments %v; want the absent kept", name, q.Left, out.Report.Changed, out.Report.ActionsTotal, got)
				}
				continue
			}
			if q.Left != 2 || len(got) != 8 || got["1"] != "" || got["2"] != "" || out.Report.Changed != 2 {
				t.Fatalf("%s: left %d, changed %d, assignments %v; want 1 and 2 gone", name, q.Left, out.Report.Changed, got)
			}
			if out.Report.Actions[0].Count != 1 {
				t.Fatalf("%s: farewell queued %d times, want once, for the vip who left", name, out.Report.Actions[0].Count)
			}
			var to, reason string
			if err := s.DB().QueryRow(`SELECT to_segment, reason FROM history WHERE ruleset = 'leave' AND customer_key = '1' ORDER BY run_id DESC LIMIT 1`).Scan(&to, &reason); err != nil || to != "" || reason != "left" {
				t.Fatalf("%s: history of customer 1: to %q reason %q (%v); want a move to no segment, left", name, to, reason, err)
			}
			// Run again: the customers who left are no longer known, so
			// nothing is absent and nothing changes.
			o.AsOf = o.AsOf.AddDate(0, 0, 1)
			again, err := jobs.Apply(ctx, s, src, rs, o)
			if err != nil || again.Report.Quality.Absent != 0 || again.Report.Changed != 0 {
				t.Fatalf("%s: the run after: %+v, %v; want no absent, no change", name, again.Report.Quality, err)
			}
			// Everyone leaves; the rule set has no assignments left, but it
			// is not on its first run again: a customer who comes back is
			// greeted by the guard and actions as on any other run.
			execAll(t, s, `DELETE FROM f`)
			o.AsOf = o.AsOf.AddDate(0, 0, 1)
			o.Guard.AllowLarge = true
			if _, err := jobs.Apply(ctx, s, src, rs, o); err != nil {
				t.Fatalf("%s: everyone leaves: %v", name, err)
			}
			if got := segments(t, s, rs.Name); len(got) != 0 {
				t.Fatalf("%s: assignments after everyone left: %v", name, got)
			}
			execAll(t, s, `INSERT INTO f VALUES ('42', 900)`)
			o.AsOf = o.AsOf.AddDate(0, 0, 1)
			back, err := jobs.Plan(ctx, s, src, rs, o)
			if err != nil || back.Report.Initial {
				t.Fatalf("%s: plan after everyone left: initial=%v, %v; want an ordinary run", name, back != nil && back.Report.Initial, err)
			}
		}
	}
}
