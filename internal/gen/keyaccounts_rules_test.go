package gen_test

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
)

func accountRows(c gen.Config) gen.Rows {
	g, err := gen.KeyAccounts(c)
	if err != nil {
		panic(err)
	}
	return g
}

// The B2B examples have accounts to move everywhere: every segment holds
// accounts on the first run, and month by month accounts move, every
// action fires, and no month moves more than the default guard allows.
func TestKeyAccountsRulesEverySegmentAndAction(t *testing.T) {
	t.Parallel()
	const months = 7 // strategic_exit_alert needs a 90-day grace to run out
	for _, file := range []string{"key_accounts", "churn_signals"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			rs := loadRuleSet(t, "../../examples/b2b/"+file+".yaml")
			snaps := runSnapshots(t, rs, accountRows, gen.Config{Customers: 20000, Seed: 1, AsOf: asOf}, months)
			for _, s := range snaps {
				t.Log(s)
			}
			for _, seg := range rs.Segmentations {
				for _, sg := range seg.Segments {
					if snaps[0].segments[seg.Name][sg.Name] == 0 {
						t.Errorf("first run: no account in %s/%s", seg.Name, sg.Name)
					}
				}
			}
			fired := map[string]int{}
			for _, s := range snaps[1:] {
				if share := float64(s.moved) / float64(s.customers); s.moved == 0 || share > 0.2 {
					t.Errorf("%s: %.1f%% of accounts changed segment, want some but at most the default guard's 20%%", s.asOf.Format(time.DateOnly), share*100)
				}
				for name, n := range s.actions {
					fired[name] += n
				}
			}
			for _, a := range rs.Actions {
				if fired[a.Name] == 0 {
					t.Errorf("in %d monthly runs, %s never fired", months, a.Name)
				}
			}
			for _, s := range snaps {
				if s.errors > 0 {
					t.Errorf("%s: %d rule errors", s.asOf.Format(time.DateOnly), s.errors)
				}
			}
		})
	}
}
