package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/rules"
)

// maintained is a store that counts the Maintain calls after its
// applies, and fails them with err.
type maintained struct {
	*memstore.Store
	calls []string
	err   error
}

func (m *maintained) Maintain(_ context.Context, rs *rules.RuleSet) error {
	m.calls = append(m.calls, rs.Name)
	return m.err
}

// Apply brings a Maintainer's derived data up to date after each apply
// it commits, and only then: not after a plan, nor after a guard's
// refusal. A failed Maintain leaves the apply succeeded and says why.
func TestApplyMaintainsAfterCommit(t *testing.T) {
	ctx := context.Background()
	rs := compile(t, explainRules)
	at := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	st := &maintained{Store: memstore.New()}
	facts := spendFacts{"a": 50, "b": 150}
	if _, err := jobs.Plan(ctx, st, facts, rs, jobs.Options{AsOf: at}); err != nil {
		t.Fatal(err)
	}
	if len(st.calls) != 0 {
		t.Fatalf("a plan maintained: %v", st.calls)
	}
	out, err := jobs.Apply(ctx, st, facts, rs, jobs.Options{AsOf: at})
	if err != nil || out.MaintainErr != nil {
		t.Fatalf("apply: %v, maintain: %v", err, out.MaintainErr)
	}
	if len(st.calls) != 1 || st.calls[0] != "shop" {
		t.Fatalf("maintained %v after one apply; want [shop]", st.calls)
	}
	// Every customer moves: the guard refuses, and nothing is maintained.
	_, err = jobs.Apply(ctx, st, spendFacts{"a": 150, "b": 50}, rs, jobs.Options{AsOf: at.AddDate(0, 0, 20),
		Guard: jobs.Guard{MaxMovedShare: 0.1}})
	if !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("a guarded apply: %v; want it blocked", err)
	}
	if len(st.calls) != 1 {
		t.Fatalf("maintained after a blocked apply: %v", st.calls)
	}
	st.err = errors.New("the summaries' table is locked")
	out, err = jobs.Apply(ctx, st, facts, rs, jobs.Options{AsOf: at.AddDate(0, 0, 40)})
	if err != nil {
		t.Fatalf("an apply whose Maintain failed: %v; want it succeeded", err)
	}
	if !errors.Is(out.MaintainErr, st.err) || out.Report.Status != string(jobs.StatusSucceeded) {
		t.Errorf("maintain error %v, status %q; want %v and succeeded", out.MaintainErr, out.Report.Status, st.err)
	}
}
