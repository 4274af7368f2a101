package memstore_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// cmdStore is the shape of cmd/tierflow's stateStore, which the store
// fits so that the CLI can run on it.
type cmdStore interface {
	jobs.StateStore
	jobs.RunRecorder
	jobs.SlotStore
	Close() error
	Ping(ctx context.Context) error
	Schema() string
	Redact(text string) string
	Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error)
	MigrationStatus(ctx context.Context) (*kernel.MigrationStatus, error)
	History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error)
	Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error)
	Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error)
}

var (
	_ storetest.StateStore = (*memstore.Store)(nil)
	_ cmdStore             = (*memstore.Store)(nil)
)

// The in-memory store passes the state-level conformance suite, each
// case on a new store.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunState(t, func(t *testing.T) storetest.StateBackend {
		return storetest.StateBackend{Store: memstore.New()}
	})
}

func TestMigrationStatusIsCurrent(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for _, dry := range []bool{true, false} {
		st, err := s.Migrate(ctx, dry)
		if err != nil || st.Check(s.Schema()) != nil || len(st.Pending) != 0 {
			t.Fatalf("Migrate(dryRun=%v) = %+v, %v; want current", dry, st, err)
		}
	}
	if st, err := s.MigrationStatus(ctx); err != nil || st.Current != st.Latest || st.Current == 0 {
		t.Fatalf("MigrationStatus = %+v, %v", st, err)
	}
	if err := s.Ping(ctx); err != nil || s.Schema() != "memory" || s.Redact("x") != "x" || s.Close() != nil {
		t.Fatal("Ping, Schema, Redact or Close misbehave")
	}
}
