package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
)

func openStore(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// plan and apply refuse an un-migrated database and say what to do,
// creating nothing.
func TestUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, pgtest.URL(t))
	exec(t, s, factsDDL)
	rs := retail(t)
	if _, err := jobs.Plan(ctx, s, facts(s), rs, opts()); err == nil || !strings.Contains(err.Error(), "run `tierflow migrate`") {
		t.Fatalf("plan on an un-migrated database: %v", err)
	}
	if _, err := jobs.Apply(ctx, s, facts(s), rs, opts()); err == nil || !strings.Contains(err.Error(), "run `tierflow migrate`") {
		t.Fatalf("apply on an un-migrated database: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'tierflow'`); n != 0 {
		t.Fatal("plan or apply created the tierflow schema")
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil || st.Current != 0 || len(st.Pending) != len(postgres.Migrations()) {
		t.Fatalf("status of an un-migrated database: %+v, %v", st, err)
	}
}

// A schema one migration behind: plan and apply refuse with the versions
// and what to do; migrate applies only the missing migration.
func TestOutdatedSchema(t *testing.T) {
	t.Parallel()
	ms := postgres.Migrations()
	if len(ms) < 2 {
		t.Skip("only one migration: no older schema to start from")
	}
	ctx := context.Background()
	s := openStore(t, pgtest.URL(t))
	exec(t, s, factsDDL)
	insertCustomers(t, s, 1, 50)
	// Build the schema as the previous release's migrate left it.
	exec(t, s, `CREATE SCHEMA tierflow`)
	exec(t, s, `CREATE TABLE tierflow.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`)
	tx, err := s.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL search_path TO tierflow`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:len(ms)-1] {
		if _, err := tx.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations VALUES ($1, $2, now())`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	prev, latest := ms[len(ms)-2].Version, ms[len(ms)-1].Version
	want := fmt.Sprintf("is at version %d but this tierflow needs %d: run `tierflow migrate`", prev, latest)
	if _, err := jobs.Plan(ctx, s, facts(s), retail(t), opts()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("plan on an outdated schema: %v, want %q", err, want)
	}
	if _, err := jobs.Apply(ctx, s, facts(s), retail(t), opts()); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("apply on an outdated schema: %v, want %q", err, want)
	}
	st, err := s.Migrate(ctx, false)
	if err != nil || st.Current != latest {
		t.Fatalf("migrate from version %d: %+v, %v", prev, st, err)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.schema_migrations`); got != len(ms) {
		t.Fatalf("schema_migrations holds %d rows, want %d", got, len(ms))
	}
	if _, err := jobs.Apply(ctx, s, facts(s), retail(t), opts()); err != nil {
		t.Fatalf("apply after migrate: %v", err)
	}
}

// Migrate twice: the second does nothing. Many migrates at once (from
// separate connection pools, as separate processes would): each version
// is applied once and every migrate succeeds.
func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("idempotent", func(t *testing.T) {
		t.Parallel()
		s := openStore(t, pgtest.URL(t))
		st, err := s.Migrate(ctx, false)
		if err != nil || st.Current != postgres.LatestVersion() {
			t.Fatalf("first migrate: %+v, %v", st, err)
		}
		before := databaseDigest(t, s)
		st, err = s.Migrate(ctx, false)
		if err != nil || st.Current != postgres.LatestVersion() || len(st.Pending) != 0 {
			t.Fatalf("second migrate: %+v, %v", st, err)
		}
		sameDigests(t, "database after a second migrate", databaseDigest(t, s), before)
	})
	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		const n = 6
		stores := make([]*postgres.Store, n)
		for i := range stores {
			stores[i] = openStore(t, url)
		}
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.Migrate(ctx, false)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("migrate %d: %v", i, err)
			}
		}
		if got := count(t, stores[0], `SELECT count(*) FROM tierflow.schema_migrations`); got != len(postgres.Migrations()) {
			t.Fatalf("schema_migrations holds %d rows, want %d", got, len(postgres.Migrations()))
		}
		// The schema works.
		exec(t, stores[0], factsDDL)
		insertCustomers(t, stores[0], 1, 100)
		if _, err := jobs.Apply(ctx, stores[1], facts(stores[1]), retail(t), opts()); err != nil {
			t.Fatal(err)
		}
	})
}
